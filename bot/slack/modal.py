"""The ``/helpdesk`` modal: a request in one form (description + category).

``/helpdesk`` without text opens it (``views.open`` with the command's ``trigger_id``,
which Slack honours once and only for 3 s — so it is opened right after ``ack()``, before
anything else). Submitting it (``view_submission``, ``callback_id`` :data:`CALLBACK_ID`)
is checked first: an empty description comes back on its field
(``response_action: errors``) and nothing is filed; otherwise the desk files it like a
message, with the chosen category (none chosen: the desk guesses, as in a chat). The
category's form questions, priority and the confirmation then come in the DM.
"""

from __future__ import annotations

from typing import Any

from bot.config import Config
from handlers.texts import t

CALLBACK_ID = "helpdesk_new"
DESC_BLOCK, DESC_ACTION = "desc", "desc"
CATEGORY_BLOCK, CATEGORY_ACTION = "category", "category"
MAX_DESC = 3000
MAX_OPTIONS = 100


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def view(config: Config, locale: str) -> dict[str, Any]:
    """The modal in ``locale``."""
    options = [{"text": _plain(c.title.get(locale), 75), "value": key[:150]}
               for key, c in list(config.categories.items())[:MAX_OPTIONS]]
    return {
        "type": "modal", "callback_id": CALLBACK_ID,
        "title": _plain(t("slack_modal_title", locale), 24),
        "submit": _plain(t("slack_modal_submit", locale), 24),
        "close": _plain(t("slack_modal_close", locale), 24),
        "private_metadata": locale,
        "blocks": [
            {"type": "input", "block_id": DESC_BLOCK, "label": _plain(t("slack_modal_desc", locale), 2000),
             "element": {"type": "plain_text_input", "action_id": DESC_ACTION, "multiline": True,
                         "max_length": MAX_DESC,
                         "placeholder": _plain(t("slack_modal_desc_hint", locale), 150)}},
            {"type": "input", "block_id": CATEGORY_BLOCK, "optional": True,
             "label": _plain(t("slack_modal_category", locale), 2000),
             "hint": _plain(t("slack_modal_category_hint", locale), 2000),
             "element": {"type": "static_select", "action_id": CATEGORY_ACTION, "options": options}},
        ],
    }


def read(submitted: dict[str, Any], config: Config) -> tuple[str, str | None, dict[str, str]]:
    """(description, category, errors by block id) of a submitted modal."""
    values = ((submitted.get("state") or {}).get("values")) or {}
    desc = str(((values.get(DESC_BLOCK) or {}).get(DESC_ACTION) or {}).get("value") or "").strip()
    chosen = ((values.get(CATEGORY_BLOCK) or {}).get(CATEGORY_ACTION) or {}).get("selected_option") or {}
    category = chosen.get("value")
    locale = str(submitted.get("private_metadata") or config.desk.default_locale)
    errors: dict[str, str] = {}
    if not desc:
        errors[DESC_BLOCK] = t("slack_modal_desc_empty", locale)
    if category is not None and category not in config.categories:
        category = None  # a category removed since the modal opened: guessed instead
    return desc, category, errors
