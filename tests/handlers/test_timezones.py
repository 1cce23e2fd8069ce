"""Times shown to a person are in their own time zone when a platform profile gave one
(Slack's ``tz``), else in the team's calendar zone, else the desk's; an unknown zone is
ignored (issue 9: "time zone from the profile for the times shown to that person")."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from bot.config import Config
from handlers.cards import format_time
from handlers.events import Incoming
from handlers.sanitize import known_timezone
from store.models import Identity, Ticket
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM, Desk
from tests.support.scenarios import open_desk, open_ticket

NEW_YORK = "America/New_York"
PRINTER = "принтер не печатает"


def test_the_readers_zone_wins_over_the_teams_and_an_unknown_one_is_ignored(config: Config) -> None:
    moment = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert format_time(moment, config, "en", team="it", zone=NEW_YORK) == "Dec 2 5:00\u202fAM EST"
    assert format_time(moment, config, "en", team="it", zone="Mars/Olympus") == "Dec 2 1:00\u202fPM MSK"
    assert format_time(moment, config, "en", team="it", zone="../../etc/passwd") == "Dec 2 1:00\u202fPM MSK"


def test_only_known_iana_zones_pass() -> None:
    assert known_timezone("Europe/Berlin") == "Europe/Berlin"
    assert [known_timezone(z) for z in ("", None, "Mars/Olympus", "/etc/localtime", "x" * 100)] == [None] * 5


async def _first_seen_with(desk: Desk, who: str, timezone: str | None) -> None:
    """``who`` writes once with a profile time zone (as the Slack frontend passes it on)."""
    await desk.send(Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=desk.key(), text="/help",
                             timezone=timezone))


async def _created(desk: Desk, who: str) -> tuple[Ticket, str]:
    number = await open_ticket(desk, who, PRINTER)
    async with desk.app.db.transaction() as s:
        ticket = (await s.exec(select(Ticket).where(Ticket.id == number))).one()
    told = next(m.text for m in desk.received(who) if f"#{number}" in m.text and m.ticket_id == number)
    return ticket, told


async def _zone_of(desk: Desk, who: str, platform: str = PLATFORM) -> str | None:
    async with desk.app.db.transaction() as s:
        ident = (await s.exec(select(Identity).where(Identity.platform == platform,
                                                     Identity.platform_user_id == who))).one()
        return ident.timezone


async def test_a_requester_sees_the_due_time_in_their_own_zone(config: Config, db_url: str, clock: FakeClock) -> None:
    async with open_desk(config, db_url, clock) as desk:
        await _first_seen_with(desk, "anna", NEW_YORK)
        assert await _zone_of(desk, "anna") == NEW_YORK
        ticket, told = await _created(desk, "anna")
        theirs = format_time(ticket.first_response_due, config, "ru", team=ticket.team, zone=NEW_YORK)
        teams = format_time(ticket.first_response_due, config, "ru", team=ticket.team)
        assert theirs != teams
        assert theirs in told and teams not in told

        # /ticket N: the card's due time and every history line in her zone too.
        await desk.say("anna", f"/ticket {ticket.id}")
        shown = desk.last("anna").text
        assert theirs in shown
        assert format_time(ticket.created_at, config, "ru", team=ticket.team, zone=NEW_YORK) in shown


async def test_an_unknown_zone_is_ignored(config: Config, db_url: str, clock: FakeClock) -> None:
    async with open_desk(config, db_url, clock) as desk:
        await _first_seen_with(desk, "anna", "Mars/Olympus")
        assert await _zone_of(desk, "anna") is None
        ticket, told = await _created(desk, "anna")
        assert format_time(ticket.first_response_due, config, "ru", team=ticket.team) in told


async def test_the_zone_of_another_account_is_used_when_this_one_has_none(
    config: Config, db_url: str, clock: FakeClock,
) -> None:
    async with open_desk(config, db_url, clock) as desk:
        async with desk.app.db.transaction() as s:  # anna's Slack profile said Tokyo
            slack = (await s.exec(select(Identity).where(Identity.platform == "slack",
                                                         Identity.platform_user_id == "U0000ANNA"))).one()
            slack.timezone = "Asia/Tokyo"
            s.add(slack)
        ticket, told = await _created(desk, "anna")
        assert format_time(ticket.first_response_due, config, "ru", team=ticket.team, zone="Asia/Tokyo") in told
