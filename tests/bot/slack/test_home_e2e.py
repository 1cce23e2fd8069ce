"""App Home end to end: real slack-bolt and the real outbox worker against the fake Slack.

anna (requester) and boris (IT agent) open the app's Home tab; it shows anna's request with
its status and boris's tickets and team queue with Claim; a claim from the Home works like
one from the card, and every change publishes the Homes again — only for people who opened
theirs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from bot.slack.actions import encode
from handlers.events import Button
from handlers.texts import translator
from store import tickets
from store.models import Person, Status, Ticket
from tests.bot.slack.test_story_e2e import PROBLEM
from tests.support.story import WAIT, Desk, desk, with_button
from tests.support.slack import SlackView

ru = translator("ru")


async def file_a_request(d: Desk) -> None:
    """anna files #1 in her DM with the app (the KB offer, then the guessed category)."""
    await d.anna.says(PROBLEM)
    offer = await with_button(d.anna, ru("btn_open_ticket"))
    await d.anna.presses(offer, ru("btn_open_ticket"))
    yes = ru("btn_yes_category", category="").strip(" ,")
    guess = await with_button(d.anna, yes)
    await d.anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
    await d.anna.sees("#1")


def publishes_for(d: Desk, user: str) -> int:
    return sum(1 for call in d.slack.calls_of("views.publish") if call.params.get("user_id") == user)


async def test_homes_show_requests_queue_and_claim_and_follow_every_change(db_url: str) -> None:
    async with desk(db_url) as d:
        anna, boris, it, fake = d.anna, d.boris, d.it, d.slack
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)

        await anna.opens_home()
        await anna.sees_home(ru("home_my_requests_none"), timeout=WAIT)
        assert ru("home_team_queue") not in (anna.home or _none()).text  # not an agent

        await file_a_request(d)
        # anna's Home follows without her opening it again.
        await anna.sees_home(ru("status_new"), timeout=WAIT)

        await boris.opens_home()
        home = await boris.sees_home(ru("home_team_queue"), timeout=WAIT)
        assert ru("home_my_tickets_none") in home.text and "#1" in home.text
        assert home.buttons == [ru("btn_claim")]

        await boris.presses(home, ru("btn_claim"))
        card = await with_button(it, team("btn_claim"))
        await fake.wait_for(lambda: team("btn_claim") not in card.buttons or None, WAIT)  # the card shows the claim
        assert "Boris" in card.text
        home = await boris.sees_home(ru("home_team_queue_none"), timeout=WAIT)
        assert home.buttons == [] and ru("status_claimed", owner="Boris Petrov") in home.text
        await boris.sees(ru("claimed_ok", n=1), timeout=WAIT)  # in his DM with the app
        await anna.sees_home(ru("status_claimed", owner="Boris Petrov"), timeout=WAIT)

        await boris.says("/resolve 1 замятие убрано", channel=it, thread_ts=card.ts)
        await anna.sees_home(ru("status_resolved", owner="Boris Petrov"), timeout=WAIT)
        await boris.sees_home(ru("home_my_tickets_none"), timeout=WAIT)

        # vera (IT, L2) saw every change of the IT queue but never opened her Home.
        assert publishes_for(d, d.vera.id) == 0
        assert fake.home.get(d.vera.id) is None


async def test_a_forged_claim_on_the_home_for_another_teams_ticket_is_refused(sqlite_url: str) -> None:
    async with desk(sqlite_url) as d:
        boris = d.boris
        async with d.app.db.transaction() as s:
            anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
            now = datetime.now(UTC)
            hr_ticket = await tickets.create_ticket(
                s, team="hr", category="leave", priority="normal", requester_id=anna.id or 0, text="отпуск",
                platform="slack", now=now, first_response_due=None, resolution_due=None)
            number = hr_ticket.id
        await boris.opens_home()
        home: SlackView = await boris.sees_home(ru("home_team_queue_none"), timeout=WAIT)
        before = publishes_for(d, boris.id)

        await boris.presses(home, ru("btn_claim"), value=encode(Button("Claim", "claim", number)), action_id="b0.0")
        refusal = await boris.gets_ephemeral(ru("no_ticket", n=number), timeout=WAIT)
        assert refusal["channel"] == boris.dm["id"]  # a Home press is answered in the DM
        async with d.app.db.transaction() as s:
            ticket = (await s.exec(select(Ticket).where(Ticket.id == number))).one()
        assert ticket.status == Status.NEW and ticket.assignee_id is None
        assert publishes_for(d, boris.id) == before  # nothing changed, nothing to publish


def _none() -> SlackView:
    raise AssertionError("no Home published")
