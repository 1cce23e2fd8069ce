"""How a ticket looks to agents: the queue card and its buttons for each status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel import dates as babel_dates

from bot.config import Config
from handlers.events import Button, Reply
from handlers.sanitize import known_timezone
from handlers.texts import Translator
from store.models import Status, Ticket
from store.tickets import TIER_ORDER


def format_time(
    value: datetime | None, config: Config, locale: str | None = None, *, team: str | None = None,
    zone: str | None = None,
) -> str:
    """A moment for a reader: "2 дек. 13:00 MSK" / "Dec 2 1:00 PM MSK" (Babel, CLDR patterns).

    Shown in the reader's own time zone ``zone`` when it is known (a platform profile's),
    else in ``team``'s calendar time zone (the desk time zone when the team has none), and
    in ``locale`` (the desk default when not given).
    """
    if value is None:
        return "—"
    loc = locale or config.desk.default_locale
    tz = ZoneInfo(known_timezone(zone) or team_timezone(config, team))
    date = babel_dates.format_skeleton("MMMd", value, tzinfo=tz, locale=loc)
    clock = babel_dates.format_time(value, "short", tzinfo=tz, locale=loc)
    zone = value.astimezone(tz).tzname() or ""
    if not zone.isalpha():  # "+03" style names: let Babel write the offset
        zone = babel_dates.format_datetime(value, "z", tzinfo=tz, locale=loc)
    return f"{date} {clock} {zone}".strip()


def team_timezone(config: Config, team: str | None) -> str:
    """The IANA zone of ``team``'s calendar (its override first), else the desk's."""
    conf = config.teams.get(team) if team else None
    if conf is not None and conf.calendar and conf.calendar in config.calendars:
        override = conf.calendar_overrides.timezone if conf.calendar_overrides else None
        return override or config.calendars[conf.calendar].timezone
    return config.desk.timezone


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
    t: Translator, ticket: Ticket, config: Config, *, requester: str, owner: str | None,
    unreachable_on: str | None = None, zone: str | None = None,
) -> Reply:
    """The queue card (``zone``: the reader's time zone, for a card shown to one person)."""
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
        due=format_time(ticket.first_response_due, config, locale, team=ticket.team, zone=zone),
        status=status_text(t, ticket, owner),
    )
    if unreachable_on is not None:  # the platform the requester blocked the bot on
        text += "\n" + t("card_unreachable", name=requester, platform=t(f"platform_{unreachable_on}"))
    text += fields_text(t, ticket, config)
    return Reply(text, card_buttons(t, ticket, config), ticket_id=ticket.id, card="queue")
