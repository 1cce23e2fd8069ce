"""A category's request form (``categories.X.ask``): one set of rules, wherever it is filled.

The chat asks the questions one at a time (:mod:`handlers.requester`); Slack's
``/helpdesk`` modal shows them all as fields (:mod:`bot.slack.modal`). Both check an
answer with :func:`check_answer`, and the engine checks a whole submitted form again with
:func:`check_form` (a frontend's payload is never trusted). Pure functions, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import AskQuestion, Config

FORM_ANSWER_MAX = 1000  # characters kept of one form answer
REQUIRED = "form_field_required"  # the text key of the one problem an answer can have


def check_answer(question: AskQuestion, text: object) -> tuple[str | None, str | None]:
    """``(answer, problem)`` for what was given to ``question``: the answer to keep (trimmed,
    cut at :data:`FORM_ANSWER_MAX`; ``None`` when empty) and the text key of the problem
    (:data:`REQUIRED` for an empty required answer, else ``None``). Non-text is empty."""
    answer = (text if isinstance(text, str) else "").strip()[:FORM_ANSWER_MAX]
    if answer:
        return answer, None
    return None, REQUIRED if question.required else None


def check_form(questions: Sequence[AskQuestion], given: Mapping[str, object]) -> tuple[dict[str, str], dict[str, str]]:
    """``(answers, problems)`` by question key for a form filled in one go; keys that are not
    questions of the form are ignored."""
    answers: dict[str, str] = {}
    problems: dict[str, str] = {}
    for q in questions:
        answer, problem = check_answer(q, given.get(q.key))
        if answer is not None:
            answers[q.key] = answer
        if problem is not None:
            problems[q.key] = problem
    return answers, problems


@dataclass(frozen=True)
class FormRequest:
    """A request filed from a form in one go: what the frontend says was chosen and answered.

    Carried as the ``value`` of a ``file_request`` action (:meth:`to_value`); read back with
    :func:`read_request`, which accepts anything and keeps only what is well-formed. The
    engine still checks it against the config (``category``/``priority`` may be unknown)."""

    category: str | None = None
    priority: str | None = None
    fields: dict[str, str] | None = field(default=None)  # None: the form was not shown

    def to_value(self) -> str:
        data: dict[str, Any] = {"category": self.category, "priority": self.priority}
        if self.fields is not None:
            data["fields"] = self.fields
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def read_request(value: str | None) -> FormRequest:
    """A ``file_request`` value: the JSON of :meth:`FormRequest.to_value`, or (older
    frontends) a bare category key; garbage reads as an empty request."""
    text = (value or "").strip()
    if not text:
        return FormRequest()
    try:
        data = json.loads(text)
    except ValueError:
        return FormRequest(category=text)
    if not isinstance(data, dict):
        return FormRequest()
    category, priority, fields = data.get("category"), data.get("priority"), data.get("fields")
    return FormRequest(
        category=category if isinstance(category, str) else None,
        priority=priority if isinstance(priority, str) else None,
        fields={str(k): v for k, v in fields.items() if isinstance(v, str)} if isinstance(fields, dict) else None,
    )


def known_priority(config: Config, key: str | None) -> str | None:
    """``key`` when it is one of the configured priorities, else ``None``."""
    return key if key is not None and key in config.priorities else None
