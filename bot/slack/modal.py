"""The ``/helpdesk`` modal: a whole request in one form.

Fields: the description, the category, the priority when the desk asks for it
(``desk.ask_priority``; otherwise it is inferred from the text, as in a chat), and the
chosen category's form questions (``categories.X.ask``), one text field each.

``/helpdesk`` without text opens it (``views.open`` with the command's ``trigger_id``,
which Slack honours once and only for 3 s — so it is opened right after ``ack()``). The
category select has ``dispatch_action``: choosing one sends a ``block_actions`` request
(action :data:`CATEGORY_ACTION`), answered with ``views.update`` (the view's id and
``hash``) showing that category's questions, with what was typed so far kept
(:func:`view_after_choice`). ``private_metadata`` says for which category the questions
were built, and the locale.

Submitting (``view_submission``, ``callback_id`` :data:`CALLBACK_ID`) is checked by
:func:`read` with the chat's rules (:mod:`handlers.forms`): problems come back on their
fields (``response_action: errors``) and nothing is filed. A category that is no longer
configured is an error on the category field. If the questions shown are not the chosen
category's (the update did not arrive), the modal is updated instead of filed. Otherwise
the desk files it (``file_request`` with a :class:`~handlers.forms.FormRequest`), and
checks it all again itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.config import LOCALES, Config
from handlers import forms
from handlers.texts import t

CALLBACK_ID = "helpdesk_new"
DESC_BLOCK, DESC_ACTION = "desc", "desc"
CATEGORY_BLOCK, CATEGORY_ACTION = "category", "helpdesk_category"
PRIORITY_BLOCK, PRIORITY_ACTION = "priority", "priority"
FIELD_PREFIX = "f."  # a question's block id and action id: "f.<key>" (action ids are unique in a view)
MAX_DESC = 3000
MAX_OPTIONS = 100

State = dict[str, dict[str, Any]]  # view.state.values: block_id -> action_id -> value


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _option(title: str, value: str) -> dict[str, Any]:
    return {"text": _plain(title, 75), "value": value[:150]}


def field_block(key: str) -> str:
    """The block id (and action id) of the form question ``key``."""
    return f"{FIELD_PREFIX}{key}"


def _text_input(block_id: str, action_id: str, label: str, *, initial: str | None, optional: bool,
                max_length: int, multiline: bool = False, hint: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline,
                               "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if hint:
        element["placeholder"] = _plain(hint, 150)
    return {"type": "input", "block_id": block_id, "optional": optional, "label": _plain(label, 2000),
            "element": element}


def _select(block_id: str, action_id: str, label: str, options: list[dict[str, Any]], *, chosen: str | None,
            optional: bool, dispatch: bool = False, hint: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options}
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is not None:
        element["initial_option"] = initial
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional,
                             "label": _plain(label, 2000), "element": element}
    if dispatch:
        block["dispatch_action"] = True
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def view(config: Config, locale: str, *, category: str | None = None, state: State | None = None) -> dict[str, Any]:
    """The modal in ``locale``, with ``category``'s questions; ``state`` (a submitted or
    current view's ``state.values``) fills in what was already typed or chosen."""
    values = _Values(state or {})
    if category not in config.categories:
        category = None
    categories = [_option(c.title.get(locale), key) for key, c in list(config.categories.items())[:MAX_OPTIONS]]
    blocks = [
        _text_input(DESC_BLOCK, DESC_ACTION, t("slack_modal_desc", locale), initial=values.text(DESC_BLOCK, DESC_ACTION),
                    optional=False, max_length=MAX_DESC, multiline=True, hint=t("slack_modal_desc_hint", locale)),
        _select(CATEGORY_BLOCK, CATEGORY_ACTION, t("slack_modal_category", locale), categories, chosen=category,
                optional=True, dispatch=True, hint=t("slack_modal_category_hint", locale)),
    ]
    if config.desk.ask_priority:
        priorities = [_option(p.title.get(locale), key) for key, p in list(config.priorities.items())[:MAX_OPTIONS]]
        blocks.append(_select(PRIORITY_BLOCK, PRIORITY_ACTION, t("slack_modal_priority", locale), priorities,
                              chosen=values.choice(PRIORITY_BLOCK, PRIORITY_ACTION), optional=False))
    for q in config.categories[category].ask if category is not None else ():
        block = field_block(q.key)
        blocks.append(_text_input(block, block, q.text.get(locale), initial=values.text(block, block),
                                  optional=not q.required,
                                  max_length=forms.FORM_ANSWER_MAX))
    return {
        "type": "modal", "callback_id": CALLBACK_ID,
        "title": _plain(t("slack_modal_title", locale), 24),
        "submit": _plain(t("slack_modal_submit", locale), 24),
        "close": _plain(t("slack_modal_close", locale), 24),
        "private_metadata": json.dumps({"locale": locale, "category": category}, ensure_ascii=False),
        "blocks": blocks,
    }


def view_after_choice(current: dict[str, Any], config: Config) -> dict[str, Any]:
    """The modal to show after the category select changed in ``current`` (the view as the
    ``block_actions`` request carries it): the chosen category's questions, typed text kept."""
    state = _state_of(current)
    locale, _shown = _metadata(current, config)
    return view(config, locale, category=_Values(state).choice(CATEGORY_BLOCK, CATEGORY_ACTION), state=state)


@dataclass(frozen=True)
class Submitted:
    """A submitted modal, read and checked."""

    locale: str
    description: str
    category: str | None
    priority: str | None
    fields: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # block id -> message, in ``locale``
    update: dict[str, Any] | None = None  # the view to show instead of filing (questions not shown yet)

    def request(self) -> forms.FormRequest:
        """What the desk is asked to file."""
        return forms.FormRequest(category=self.category, priority=self.priority,
                                 fields=dict(self.fields) if self.category is not None else None)


def read(submitted: dict[str, Any], config: Config) -> Submitted:
    """Read and check a submitted modal (``view_submission``'s ``view``) against ``config``."""
    state = _state_of(submitted)
    values = _Values(state)
    locale, shown = _metadata(submitted, config)
    desc = (values.text(DESC_BLOCK, DESC_ACTION) or "").strip()
    category = values.choice(CATEGORY_BLOCK, CATEGORY_ACTION)
    errors: dict[str, str] = {}
    if not desc:
        errors[DESC_BLOCK] = t("slack_modal_desc_empty", locale)
    if category is not None and category not in config.categories:
        errors[CATEGORY_BLOCK] = t("slack_modal_category_gone", locale)
        category = None
    priority = None
    if config.desk.ask_priority:
        priority = forms.known_priority(config, values.choice(PRIORITY_BLOCK, PRIORITY_ACTION))
        if priority is None:
            errors[PRIORITY_BLOCK] = t("slack_modal_priority_empty", locale)
    if category is not None and category != shown and config.categories[category].ask and not errors.get(CATEGORY_BLOCK):
        # Its questions were never shown (the update was lost or raced): show them now.
        return Submitted(locale, desc, category, priority, errors=errors,
                         update=None if errors else view(config, locale, category=category, state=state))
    answers: dict[str, str] = {}
    if category is not None:
        questions = config.categories[category].ask
        given = {q.key: values.text(field_block(q.key), field_block(q.key)) for q in questions}
        answers, problems = forms.check_form(questions, given)
        errors.update({field_block(key): t(problem, locale) for key, problem in problems.items()})
    return Submitted(locale, desc, category, priority, fields=answers, errors=errors)


def _state_of(v: dict[str, Any]) -> State:
    values = (v.get("state") or {}).get("values")
    return values if isinstance(values, dict) else {}


def _metadata(v: dict[str, Any], config: Config) -> tuple[str, str | None]:
    """(locale, category whose questions the view shows) from ``private_metadata``."""
    raw = str(v.get("private_metadata") or "")
    try:
        meta = json.loads(raw) if raw.startswith("{") else {"locale": raw}
    except ValueError:
        meta = {}
    locale = meta.get("locale") if meta.get("locale") in LOCALES else config.desk.default_locale
    shown = meta.get("category")
    return str(locale), shown if isinstance(shown, str) else None


@dataclass(frozen=True)
class _Values:
    state: State

    def _entry(self, block: str, action: str) -> dict[str, Any]:
        entry = (self.state.get(block) or {}).get(action)
        return entry if isinstance(entry, dict) else {}

    def text(self, block: str, action: str) -> str | None:
        value = self._entry(block, action).get("value")
        return value if isinstance(value, str) else None

    def choice(self, block: str, action: str) -> str | None:
        option = self._entry(block, action).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None
