"""A Slack requester's profile time zone (``users.info`` ``tz``) is the zone of the times shown
to them; a zone nobody knows is ignored (the team's zone is shown). End to end: real bolt,
the fake Slack Web API, the real engine and outbox worker."""

from __future__ import annotations

from sqlmodel import select

from handlers.cards import format_time
from handlers.texts import translator
from store.models import Identity
from tests.support.slack import SlackUser
from tests.support.story import WAIT, desk, with_button

en = translator("en")
NEW_YORK = "America/New_York"


async def _opens_a_ticket(user: SlackUser, text: str, number: int) -> str:
    """``user`` files ``text`` from their DM (KB offer, guessed category); the "#N created" text."""
    await user.says(text)
    await user.presses(await with_button(user, en("btn_open_ticket")), en("btn_open_ticket"))
    yes = en("btn_yes_category", category="").strip(" ,")
    guess = await with_button(user, yes)
    await user.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
    return (await user.sees(f"#{number}", timeout=WAIT)).text


async def test_the_due_time_is_shown_in_the_requesters_slack_time_zone(db_url: str) -> None:
    async with desk(db_url) as d:
        nick = d.slack.user("U0000NICK", "Nick Parker", locale="en-US", tz=NEW_YORK)
        mars = d.slack.user("U0000MARS", "Mark Watney", locale="en-US", tz="Mars/Olympus")

        told = await _opens_a_ticket(nick, "the printer on floor 3 is not printing", 1)
        ticket = await d.ticket(1)
        theirs = format_time(ticket.first_response_due, d.app.config, "en", team=ticket.team, zone=NEW_YORK)
        teams = format_time(ticket.first_response_due, d.app.config, "en", team=ticket.team)
        assert theirs != teams and theirs in told, told

        told = await _opens_a_ticket(mars, "the vpn drops every ten minutes", 2)
        ticket = await d.ticket(2)
        assert format_time(ticket.first_response_due, d.app.config, "en", team=ticket.team) in told, told

        async with d.app.db.transaction() as s:
            zones = dict((await s.exec(select(Identity.platform_user_id, Identity.timezone).where(
                Identity.platform == "slack"))).all())
        assert zones["U0000NICK"] == NEW_YORK and zones["U0000MARS"] is None
