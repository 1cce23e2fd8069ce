"""How a ticket looks to agents: the queue card and its buttons for each status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from handlers.events import Button, Reply
from handlers.texts import Translator
from store.models import Status, Ticket
from store.tickets import TIER_ORDER


def format_time(value: datetime | None, config: Config) -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(config.desk.timezone)).strftime("%Y-%m-%d %H:%M")


def status_text(t: Translator, ticket: Ticket, owner: str | None) -> str:
    return t(f"status_{ticket.status}", owner=owner or "—")


def escalation_target(config: Config, ticket: Ticket) -> str | None:
    """The next tier above the ticket's that has agents in its team's config, or ``None``."""
    tiers = config.teams[ticket.team].tiers if ticket.team in config.teams else {}
    above = TIER_ORDER[TIER_ORDER.index(ticket.tier) + 1 :] if ticket.tier in TIER_ORDER else ()
    return next((tier for tier in above if tiers.get(tier)), None)


def card_buttons(t: Translator, ticket: Ticket, config: Config | None = None) -> tuple[tuple[Button, ...], ...]:
    """The card's buttons for the ticket's status; Escalate only when a higher tier is staffed
    (checked when ``config`` is given)."""
    n = ticket.id
    can_escalate = config is None or escalation_target(config, ticket) is not None
    escalate = (Button(t("btn_escalate"), "escalate", n),) if can_escalate else ()
    if ticket.status == Status.NEW:
        return (
            (Button(t("btn_claim"), "claim", n), Button(t("btn_assign"), "assign", n)),
            *((escalate,) if escalate else ()),
        )
    if ticket.status in (Status.CLAIMED, Status.WAITING):
        return (
            (Button(t("btn_reply"), "reply", n), Button(t("btn_resolve"), "resolve", n)),
            (
                *escalate,
                Button(t("btn_release"), "release", n),
                Button(t("btn_reassign"), "assign", n),
            ),
        )
    return ()


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
    return Reply(text, card_buttons(t, ticket, config), ticket_id=ticket.id, card="queue")
