"""The App Home the engine decides (handlers.home), on SQLite and PostgreSQL.

A desk serving the console and Slack: people open their Home with a Slack ``signal="home"``;
what would be published is read back from the outbox (``card="home"`` rows).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from sqlmodel import col, select

from bot.app import App, build
from bot.config import Config
from handlers.events import Incoming
from handlers.home import HOME_CARD, MAX_ROWS, HomeView
from handlers.texts import translator
from store import tickets
from store.models import OutboxMessage, Person, Ticket
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender

SLACK_ID = {"anna": "U0000ANNA", "boris": "U000BORIS", "vera": "U0000VERA", "dina": "U0000DINA"}
ru, en = translator("ru"), translator("en")
_keys = itertools.count(1)


@pytest.fixture
async def home_desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    senders = {"console": RecordingSender(), "slack": RecordingSender(platform="slack")}
    built: App = build(config, senders=senders, database_url=db_url, clock=clock)
    await built.start()
    yield await Desk.open(built)
    await built.close()


async def open_home(desk: Desk, who: str, platform: str = "slack") -> None:
    user = SLACK_ID[who] if platform == "slack" else who
    await desk.send(Incoming(platform=platform, chat_id=f"D{user}", user_id=user, event_key=f"home:{next(_keys)}",
                             signal="home"))


async def new_ticket(desk: Desk, team: str, requester: str, text: str, *, status_of: str | None = None) -> int:
    async with desk.app.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.key == requester))).one()
        assert person.id is not None
        ticket = await tickets.create_ticket(
            s, team=team, category="other", priority="normal", requester_id=person.id, text=text,
            platform="console", now=desk.app.engine.clock(), first_response_due=None, resolution_due=None)
        assert ticket.id is not None
        if status_of is not None:
            holder = (await s.exec(select(Person).where(Person.key == status_of))).one()
            assert holder.id is not None
            await tickets.claim_ticket(s, ticket.id, holder.id, desk.app.engine.clock())
        return ticket.id


async def home_rows(desk: Desk) -> list[OutboxMessage]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(OutboxMessage).where(OutboxMessage.card == HOME_CARD)
                                 .order_by(col(OutboxMessage.id))))


async def latest_home(desk: Desk, who: str) -> HomeView:
    rows = [r for r in await home_rows(desk) if r.chat_id == SLACK_ID[who]]
    assert rows, f"no Home for {who}"
    return HomeView.from_dict(rows[-1].payload["view"])


async def test_a_requester_sees_their_requests_with_status_in_their_language(home_desk: Desk) -> None:
    first = await new_ticket(home_desk, "it", "anna", "Принтер не печатает")
    second = await new_ticket(home_desk, "it", "anna", "Нет доступа к VPN", status_of="boris")
    await new_ticket(home_desk, "it", "irina", "Чужая заявка")
    await open_home(home_desk, "anna")

    view = await latest_home(home_desk, "anna")
    assert [s.key for s in view.sections] == ["requests"]  # not staff: no tickets, no queue
    assert view.reply_chat == "DU0000ANNA"  # the DM the Home was opened from answers its presses
    requests = view.section("requests")
    assert requests is not None and requests.title == ru("home_my_requests")
    assert [r.ticket_id for r in requests.rows] == [second, first]
    assert requests.rows[0].text == f"#{second} Нет доступа к VPN"
    assert ru("status_claimed", owner="Boris Petrov") in requests.rows[0].detail
    assert ru("status_new") in requests.rows[1].detail
    assert all(r.button is None for r in requests.rows) and requests.more is None


async def test_an_agent_sees_their_tickets_and_their_teams_queue_with_claim(home_desk: Desk) -> None:
    waiting = await new_ticket(home_desk, "it", "anna", "Принтер не печатает")
    held = await new_ticket(home_desk, "it", "irina", "Монитор мигает", status_of="boris")
    await new_ticket(home_desk, "hr", "anna", "Справка 2-НДФЛ")  # another team's
    await open_home(home_desk, "boris")

    view = await latest_home(home_desk, "boris")
    mine, queue = view.section("tickets"), view.section("queue")
    assert mine is not None and queue is not None
    assert [r.ticket_id for r in mine.rows] == [held] and mine.rows[0].button is None
    assert [r.ticket_id for r in queue.rows] == [waiting]
    claim = queue.rows[0].button
    assert claim is not None and (claim.action, claim.ticket_id, claim.label) == ("claim", waiting, ru("btn_claim"))


async def test_long_lists_are_cut_and_say_how_many_more(home_desk: Desk) -> None:
    for n in range(MAX_ROWS + 2):
        await new_ticket(home_desk, "it", "anna", f"Заявка {n}")
    await open_home(home_desk, "vera")  # English

    queue = (await latest_home(home_desk, "vera")).section("queue")
    assert queue is not None and len(queue.rows) == MAX_ROWS
    assert queue.more == en("home_more", n=2)


async def test_a_change_refreshes_the_homes_it_changes_once_and_only_opened_ones(home_desk: Desk) -> None:
    number = await new_ticket(home_desk, "it", "anna", "Принтер не печатает")
    await open_home(home_desk, "anna")
    await open_home(home_desk, "boris")
    await open_home(home_desk, "dina")  # HR: the IT queue is not hers
    before = len(await home_rows(home_desk))

    await home_desk.click("boris", "claim", number)

    after = (await home_rows(home_desk))[before:]
    assert sorted(r.chat_id for r in after) == sorted([SLACK_ID["anna"], SLACK_ID["boris"]])  # one each; vera never opened
    assert {r.platform for r in after} == {"slack"}
    boris = await latest_home(home_desk, "boris")
    assert [r.ticket_id for r in boris.section("tickets").rows] == [number]  # type: ignore[union-attr]
    assert boris.section("queue").rows == ()  # type: ignore[union-attr]
    anna = await latest_home(home_desk, "anna")
    assert ru("status_claimed", owner="Boris Petrov") in anna.section("requests").rows[0].detail  # type: ignore[union-attr]

    await home_desk.say("boris", f"/resolve {number}")
    before = len(await home_rows(home_desk))
    await home_desk.click("anna", "rate", number, "5")  # rated and closed: two changes, one Home
    after = (await home_rows(home_desk))[before:]
    assert [r.chat_id for r in after] == [SLACK_ID["anna"]]
    anna = await latest_home(home_desk, "anna")
    assert ru("status_closed", owner="Boris Petrov") in anna.section("requests").rows[0].detail  # type: ignore[union-attr]


async def test_nothing_changed_publishes_nothing_and_other_platforms_never_get_a_home(home_desk: Desk) -> None:
    number = await new_ticket(home_desk, "hr", "anna", "Справка")
    await open_home(home_desk, "boris")
    await open_home(home_desk, "anna", platform="console")  # only Slack has a Home
    before = len(await home_rows(home_desk))

    await home_desk.click("boris", "claim", number)  # another team's ticket: refused

    assert len(await home_rows(home_desk)) == before
    assert {r.platform for r in await home_rows(home_desk)} == {"slack"}
    assert not any(m.text == ru("home_title") for m in home_desk.sender.messages)  # the console got none
    async with home_desk.app.db.transaction() as s:
        ticket = await s.get_one(Ticket, number)
    assert ticket.assignee_id is None


async def test_a_home_not_yet_published_is_superseded_by_the_newer_one(home_desk: Desk) -> None:
    number = await new_ticket(home_desk, "it", "anna", "Принтер не печатает")
    engine = home_desk.app.engine
    for key in ("open:1", "open:2"):  # the worker is not running: both wait in the outbox
        await engine.handle(Incoming(platform="slack", chat_id="DU000BORIS", user_id=SLACK_ID["boris"],
                                     event_key=key, signal="home"))
    await engine.handle(Incoming(platform="console", chat_id="boris", user_id="boris", event_key="claim:1",
                                 action="claim", ticket_id=number))

    assert [r.status for r in await home_rows(home_desk)] == ["superseded", "superseded", "pending"]
    slack = home_desk.app.senders["slack"]
    assert isinstance(slack, RecordingSender)
    while await home_desk.app.worker.deliver_pending():
        pass
    assert len([m for m in slack.messages if m.chat == SLACK_ID["boris"]]) == 1  # one publish: the latest Home
    assert [r.ticket_id for r in (await latest_home(home_desk, "boris")).section("tickets").rows] == [number]  # type: ignore[union-attr]


def test_a_home_view_survives_the_outbox_payload() -> None:
    from handlers.events import Button
    from handlers.home import HomeRow, HomeSection

    view = HomeView("T", "intro", (HomeSection("queue", "Q", (HomeRow(3, "#3 x", "new", Button("Claim", "claim", 3)),),
                                              "empty", "… and 2 more"),))
    assert HomeView.from_dict(view.to_dict()) == view
