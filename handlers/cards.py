"""How a ticket looks to agents: the queue card and its buttons for each status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from handlers.events import Button, Reply
from handlers.texts import Translator
from store.models import Status, Ticket


def format_time(value: datetime | None, config: Config) -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(config.desk.timezone)).strftime("%Y-%m-%d %H:%M")


def status_text(t: Translator, ticket: Ticket, owner: str | None) -> str:
    return t(f"status_{ticket.status}", owner=owner or "—")


def card_buttons(t: Translator, ticket: Ticket) -> tuple[tuple[Button, ...], ...]:
    n = ticket.id
    if ticket.status == Status.NEW:
        return (
            (Button(t("btn_claim"), "claim", n), Button(t("btn_assign"), "assign", n)),
            (Button(t("btn_escalate"), "escalate", n),),
        )
    if ticket.status in (Status.CLAIMED, Status.WAITING):
        return (
            (Button(t("btn_reply"), "reply", n), Button(t("btn_resolve"), "resolve", n)),
            (
                Button(t("btn_escalate"), "escalate", n),
                Button(t("btn_release"), "release", n),
                Button(t("btn_reassign"), "assign", n),
            ),
        )
    return ()


def fields_text(t: Translator, ticket: Ticket, config: Config) -> str:
    """The request-form answers as card lines (question in the reader's language: answer)."""
    answers = ticket.fields or {}
    if not answers:
        return ""
    category = config.categories.get(ticket.category)
    labels = {q.key: q.text.get(t.locale) for q in category.ask} if category else {}
    lines = [f"{labels.get(key, key)}: {value}" for key, value in answers.items()]
    return "\n" + t("card_fields") + "\n" + "\n".join(lines)


def ticket_card(
    t: Translator, ticket: Ticket, config: Config, *, requester: str, owner: str | None
) -> Reply:
    locale = t.locale
    category = config.categories.get(ticket.category)
    priority = config.priorities.get(ticket.priority)
    text = t(
        "card",
        n=ticket.id,
        priority=priority.title.get(locale) if priority else ticket.priority,
        subject=ticket.subject,
        requester=requester,
        category=category.title.get(locale) if category else ticket.category,
        tier=ticket.tier,
        due=format_time(ticket.first_response_due, config),
        status=status_text(t, ticket, owner),
    )
    text += fields_text(t, ticket, config)
    return Reply(text, card_buttons(t, ticket), ticket_id=ticket.id, card="queue")
