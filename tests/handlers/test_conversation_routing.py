"""Conversation routing: where a requester's plain message goes (handlers/conversation_routing.py).

The rule, in order: a ticket's thread → that ticket; exactly one ticket waiting on the
requester → that ticket (with a one-tap undo); several open tickets → "which one?";
otherwise a new request. A resolved ticket's thread, or "не помогло" after a resolve,
offers a reopen. Nothing typed is ever dropped: after every path the text is in the store
(a ticket's history or the conversation waiting for a choice).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.config import Config
from handlers import conversation_routing as cr
from handlers import requester as rq
from handlers.events import Incoming
from handlers.texts import t
from store import conversations
from store.models import OutboxMessage, Status, Ticket
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM, Desk
from tests.support.scenarios import open_desk, open_ticket, ticket_events, ticket_messages, ticket_row

ANNA = "anna"


def ru(key: str, **values: Any) -> str:
    return t(key, "ru", **values)


@pytest.fixture
async def fdesk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    """A desk with the predictable fake KB, on SQLite and PostgreSQL."""
    async with open_desk(config, db_url, clock) as desk:
        yield desk


async def conv_of(desk: Desk, who: str = ANNA) -> tuple[str, dict[str, Any]]:
    async with desk.app.db.transaction() as s:
        conv = await conversations.load(s, PLATFORM, who, who)
        return conv.state, dict(conv.data)


async def texts_in_history(desk: Desk, number: int) -> list[str]:
    return [m.text for m in await ticket_messages(desk, number)]


async def ticket_count(desk: Desk) -> int:
    async with desk.app.db.transaction() as s:
        return len(list(await s.exec(select(Ticket))))


async def boris_asks(desk: Desk, number: int, question: str) -> None:
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/reply {number} {question}")


# --- the pure rule --------------------------------------------------------------------------------


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)


def tk(n: int, status: str, resolved_days_ago: float | None = None) -> Ticket:
    resolved = NOW - timedelta(days=resolved_days_ago) if resolved_days_ago is not None else None
    return Ticket(id=n, team="it", category="network", priority="normal", requester_id=1,
                  subject=f"s{n}", platform="console", status=status, resolved_at=resolved)


@pytest.mark.parametrize(
    ("text", "thread", "own", "kind", "ticket"),
    [
        ("ещё вопрос", tk(1, Status.CLAIMED), [], cr.RouteKind.TICKET, 1),
        ("ещё вопрос", tk(1, Status.RESOLVED, 1), [], cr.RouteKind.REOPEN, 1),
        ("ещё вопрос", tk(1, Status.RESOLVED, 30), [], cr.RouteKind.CLOSED, 1),
        ("ещё вопрос", tk(1, Status.CLOSED, 1), [], cr.RouteKind.CLOSED, 1),
        ("два монитора", None, [tk(2, Status.WAITING), tk(1, Status.CLAIMED)], cr.RouteKind.TICKET, 2),
        ("два монитора", None, [tk(2, Status.CLAIMED), tk(1, Status.NEW)], cr.RouteKind.WHICH, None),
        ("два монитора", None, [tk(2, Status.WAITING), tk(1, Status.WAITING)], cr.RouteKind.WHICH, None),
        ("два монитора", None, [tk(1, Status.CLAIMED)], cr.RouteKind.NEW, None),
        ("два монитора", None, [], cr.RouteKind.NEW, None),
        ("не помогло", None, [tk(1, Status.RESOLVED, 2)], cr.RouteKind.REOPEN, 1),
        ("still broken", None, [tk(3, Status.RESOLVED, 1), tk(1, Status.RESOLVED, 3)], cr.RouteKind.REOPEN, 3),
        ("не помогло", None, [tk(1, Status.RESOLVED, 20)], cr.RouteKind.NEW, None),
        ("спасибо!", None, [], cr.RouteKind.CHATTER, None),
        ("ok thanks", None, [tk(1, Status.RESOLVED, 1)], cr.RouteKind.CHATTER, None),
        ("👍", None, [], cr.RouteKind.CHATTER, None),
    ],
)
def test_decide(text: str, thread: Ticket | None, own: list[Ticket], kind: cr.RouteKind, ticket: int | None) -> None:
    route = cr.decide(text, thread=thread, own_tickets=own, now=NOW, reopen_window=WINDOW)
    assert route.kind == kind
    assert (route.ticket.id if route.ticket else None) == ticket


@pytest.mark.parametrize("text", ["спасибо", "Спасибо большое!", "ok", "Thank you very much", "ок, понял", "+",
                                  "спасибо, заработало", "got it, cheers"])
def test_chatter(text: str) -> None:
    assert cr.is_chatter(text)


@pytest.mark.parametrize("text", ["спасибо, но принтер не печатает", "ok so how do I reset my password", "2", "VPN",
                                  "всё ещё не работает", "help"])
def test_not_chatter(text: str) -> None:
    assert not cr.is_chatter(text)


@pytest.mark.parametrize("text", ["не помогло", "Всё ещё не печатает", "still broken", "It's not fixed", "didn't help"])
def test_says_not_fixed(text: str) -> None:
    assert cr.says_not_fixed(text)


# --- rule 2: the one ticket waiting on the requester ----------------------------------------------


async def test_a_plain_answer_to_the_agents_question_reaches_the_agent(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "нужен монитор на замену")
    await boris_asks(fdesk, n, "Сколько мониторов нужно на замену?")
    fdesk.new("boris")
    fdesk.new(ANNA)

    await fdesk.say(ANNA, "два монитора")

    assert (await texts_in_history(fdesk, n))[-1] == "два монитора"
    assert (await ticket_row(fdesk, n))["status"] == Status.CLAIMED  # back from waiting
    [ack] = fdesk.new(ANNA)
    assert ack.text == ru("added_auto", n=n)
    assert [b.action for b in ack.buttons] == ["split_new"]
    assert ru("relay_from_requester", n=n, name="Anna Ivanova", text="два монитора") in [
        m.text for m in fdesk.new("boris")
    ]
    assert await ticket_count(fdesk) == 1


async def test_this_is_a_new_request_moves_the_message_out(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "нужен монитор на замену")
    await boris_asks(fdesk, n, "Сколько мониторов?")
    await fdesk.say(ANNA, "не работает VPN")
    fdesk.new("boris")

    await fdesk.press(ANNA, "Это новый запрос")

    assert "не работает VPN" not in await texts_in_history(fdesk, n)
    assert (await ticket_row(fdesk, n))["status"] == Status.WAITING  # still waiting on the answer
    state, data = await conv_of(fdesk)
    assert data["query"] == "не работает VPN" and state == rq.SUGGEST  # the VPN article first
    assert [e.action for e in await ticket_events(fdesk, n)][-1] == "move_out"
    assert ru("message_moved_out", n=n, name="Anna Ivanova") in [m.text for m in fdesk.new("boris")]

    # The undo is one tap only: pressing it again is stale and changes nothing.
    await fdesk.click(ANNA, "split_new", n, fdesk.last_with_buttons(ANNA).buttons[0].value)
    assert fdesk.last(ANNA).text in (ru("stale_button"),)


async def test_a_forged_split_button_is_refused(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "нужен монитор на замену")
    await boris_asks(fdesk, n, "Сколько мониторов?")
    await fdesk.say(ANNA, "два")
    before = await texts_in_history(fdesk, n)

    await fdesk.click(ANNA, "split_new", n, "1")  # the first message, not the one just added
    await fdesk.click("boris", "split_new", n, "3")

    assert await texts_in_history(fdesk, n) == before
    assert fdesk.last("boris").text == t("stale_button", "ru")


# --- rule 3: several open tickets -----------------------------------------------------------------


async def two_open(desk: Desk) -> tuple[int, int]:
    first = await open_ticket(desk, ANNA, "не печатает принтер")
    second = await open_ticket(desk, ANNA, "не могу войти, забыл пароль")
    desk.new(ANNA)
    return first, second


async def test_with_two_open_tickets_a_plain_message_asks_which(fdesk: Desk) -> None:
    first, second = await two_open(fdesk)

    await fdesk.say(ANNA, "сроки какие?")

    [msg] = fdesk.new(ANNA)
    assert msg.text == ru("ask_which_ticket")
    assert [(b.action, b.ticket_id) for b in msg.buttons] == [
        ("pending_to", second), ("pending_to", first), ("pending_new", None)
    ]
    assert await conv_of(fdesk) == (rq.WHICH, {"pending": "сроки какие?", "choices": [second, first]})


@pytest.mark.parametrize("choice", [0, 1])
async def test_choosing_a_ticket_adds_the_text_to_it(fdesk: Desk, choice: int) -> None:
    tickets = await two_open(fdesk)
    await fdesk.say(ANNA, "сроки какие?")
    chosen = fdesk.last_with_buttons(ANNA).buttons[choice].ticket_id
    assert chosen is not None

    await fdesk.press(ANNA, choice + 1)

    assert (await texts_in_history(fdesk, chosen))[-1] == "сроки какие?"
    other = next(n for n in tickets if n != chosen)
    assert "сроки какие?" not in await texts_in_history(fdesk, other)
    assert fdesk.last(ANNA).text == ru("followup_sent", n=chosen)
    assert await conv_of(fdesk) == (rq.IDLE, {})


async def test_new_request_starts_the_flow_with_the_text(fdesk: Desk) -> None:
    await two_open(fdesk)
    await fdesk.say(ANNA, "сломалась мышь")

    await fdesk.press(ANNA, "Новый запрос")

    state, data = await conv_of(fdesk)
    assert state == rq.CATEGORY_CONFIRM and data["query"] == "сломалась мышь"
    await fdesk.press(ANNA, "Да")
    if "dup_new" in [b.action for b in fdesk.last(ANNA).buttons]:
        await fdesk.click(ANNA, "dup_new")  # same category as the printer ticket
    assert await ticket_count(fdesk) == 3
    async with fdesk.app.db.transaction() as s:
        newest = (await s.exec(select(Ticket).order_by(col(Ticket.id).desc()))).first()
    assert newest is not None and await texts_in_history(fdesk, newest.id) == ["сломалась мышь"]  # type: ignore[arg-type]


async def test_cancel_while_asked_which_keeps_the_text(fdesk: Desk) -> None:
    await two_open(fdesk)
    await fdesk.say(ANNA, "сроки какие?")
    await fdesk.say(ANNA, "и ещё: кто исполнитель?")

    await fdesk.say(ANNA, "/cancel")

    assert fdesk.last(ANNA).text == ru("cancelled_draft_kept")
    assert await conv_of(fdesk) == (rq.IDLE, {"draft": "сроки какие?\nи ещё: кто исполнитель?"})
    assert await ticket_count(fdesk) == 2


# --- rule 1: a ticket's thread, found through the store ----------------------------------------------


async def message_id_of_last_relay(desk: Desk, who: str, number: int) -> str:
    async with desk.app.db.transaction() as s:
        row = (await s.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == who, OutboxMessage.ticket_id == number)
            .order_by(col(OutboxMessage.id).desc())
        )).first()
    assert row is not None and row.message_id is not None
    return row.message_id


async def test_a_reply_to_a_ticket_message_goes_to_that_ticket(fdesk: Desk) -> None:
    first, second = await two_open(fdesk)
    await boris_asks(fdesk, first, "Какая модель принтера?")
    ref = await message_id_of_last_relay(fdesk, ANNA, first)

    await fdesk.send(Incoming(platform=PLATFORM, chat_id=ANNA, user_id=ANNA, event_key=fdesk.key(),
                              text="HP LaserJet", reply_to=ref))

    assert (await texts_in_history(fdesk, first))[-1] == "HP LaserJet"
    assert "HP LaserJet" not in await texts_in_history(fdesk, second)


async def test_a_slash_text_in_a_thread_is_text_not_a_command(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "не открывается сайт через VPN")
    await boris_asks(fdesk, n, "Что в hosts?")

    await fdesk.say(ANNA, "/etc/hosts has a wrong entry", ticket_id=n)
    await fdesk.say("boris", "/etc/hosts: удалите строку 3", ticket_id=n)

    history = await texts_in_history(fdesk, n)
    assert history[-2:] == ["/etc/hosts has a wrong entry", "/etc/hosts: удалите строку 3"]


async def test_chatter_in_an_open_tickets_thread_is_added_quietly(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "не открывается сайт через VPN")
    await boris_asks(fdesk, n, "Сейчас работает?")
    fdesk.new(ANNA)

    await fdesk.say(ANNA, "👍", ticket_id=n)
    await fdesk.say(ANNA, "спасибо, всё работает", ticket_id=n)

    assert (await texts_in_history(fdesk, n))[-2:] == ["👍", "спасибо, всё работает"]
    assert fdesk.new(ANNA) == []  # no "added to #N", no suggestions
    assert await ticket_count(fdesk) == 1


async def test_a_request_in_an_open_tickets_thread_is_still_acknowledged(fdesk: Desk) -> None:
    n = await open_ticket(fdesk, ANNA, "не открывается сайт через VPN")
    await boris_asks(fdesk, n, "Сейчас работает?")
    fdesk.new(ANNA)

    await fdesk.say(ANNA, "спасибо, но всё ещё не работает", ticket_id=n)

    assert (await texts_in_history(fdesk, n))[-1] == "спасибо, но всё ещё не работает"
    assert [m.text for m in fdesk.new(ANNA)] == [ru("followup_sent", n=n)]


async def test_an_unknown_command_outside_a_thread_is_still_refused(fdesk: Desk) -> None:
    await fdesk.say(ANNA, "/etc/hosts")

    assert fdesk.last(ANNA).text == ru("unknown_command", command="/etc/hosts")
    assert await ticket_count(fdesk) == 0


# --- resolved tickets: reopen, never lose the text ------------------------------------------------------


async def resolved(desk: Desk) -> int:
    n = await open_ticket(desk, ANNA, "не печатает принтер")
    await desk.say("boris", f"/take {n}")
    await desk.say("boris", f"/resolve {n}")
    desk.new(ANNA)
    desk.new("boris")
    return n


async def test_not_fixed_after_a_resolve_offers_the_reopen_and_one_tap_reopens(fdesk: Desk) -> None:
    n = await resolved(fdesk)

    await fdesk.say(ANNA, "не помогло")

    [offer] = fdesk.new(ANNA)
    assert offer.text.startswith(ru("offer_reopen", n=n, subject="не печатает принтер")[:20])
    assert await conv_of(fdesk) == (rq.REOPEN_OFFER, {"pending": "не помогло", "ticket": n})
    await fdesk.press(ANNA, f"Открыть #{n} снова")

    row = await ticket_row(fdesk, n)
    assert row["status"] == Status.CLAIMED and row["resolved_at"] is None
    assert (await texts_in_history(fdesk, n))[-1] == "не помогло"
    boris = [m.text for m in fdesk.new("boris")]
    assert ru("reopened_agent", n=n, name="Anna Ivanova") in boris
    assert ru("relay_from_requester", n=n, name="Anna Ivanova", text="не помогло") in boris


async def test_reply_to_a_resolved_ticket_offers_the_reopen_with_the_text_kept(fdesk: Desk) -> None:
    n = await resolved(fdesk)

    await fdesk.say(ANNA, f"/reply {n} всё ещё не печатает")

    assert await conv_of(fdesk) == (rq.REOPEN_OFFER, {"pending": "всё ещё не печатает", "ticket": n})
    await fdesk.press(ANNA, "Новый запрос")  # the other choice: a new request with the same text
    state, data = await conv_of(fdesk)
    assert data["query"] == "всё ещё не печатает" and state != rq.IDLE
    assert (await ticket_row(fdesk, n))["status"] == Status.RESOLVED


async def test_a_closed_tickets_thread_starts_a_new_request(fdesk: Desk) -> None:
    n = await resolved(fdesk)
    await fdesk.click(ANNA, "rate", n, "5")

    await fdesk.say(ANNA, "снова не печатает", ticket_id=n)

    assert ru("thread_closed_new", n=n) in [m.text for m in fdesk.new(ANNA)]
    assert (await conv_of(fdesk))[1]["query"] == "снова не печатает"


async def test_chatter_is_acknowledged_and_never_filed(fdesk: Desk) -> None:
    await resolved(fdesk)

    await fdesk.say(ANNA, "спасибо!")

    assert fdesk.last(ANNA).text == ru("chatter_ack")
    assert await ticket_count(fdesk) == 1
    assert await conv_of(fdesk) == (rq.IDLE, {})


async def test_a_hostile_reply_reference_is_cleaned_not_raised(fdesk: Desk) -> None:
    # Regression: reply_to reached the ticket_post lookup as is; a lone surrogate or NUL
    # made PostgreSQL raise out of Engine.handle.
    await fdesk.send(Incoming(platform=PLATFORM, chat_id=ANNA, user_id=ANNA, event_key=fdesk.key(),
                              text="не работает VPN", reply_to="12\ud800\x003"))

    assert (await conv_of(fdesk))[1]["query"] == "не работает VPN"  # no thread: a new request
