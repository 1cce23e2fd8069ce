"""Nothing doubled: the same inbound event (same event key) delivered again changes nothing.

Telegram redelivers an update when the webhook answer is late; Slack retries an event
three times. Walking one ticket through its life, every event is delivered five times —
one after another, and all at once — and each step must leave exactly the effect of
one delivery: one ticket, one set of audit events, one set of replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.config import Config
from handlers.events import Incoming, Outcome
from store.models import InboxEvent, KbFeedback, OutboxMessage, Ticket, TicketEvent, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM, Desk
from tests.support.scenarios import count_rows, open_desk

REPEATS = 5


@pytest.fixture
async def quiet_desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


@dataclass(frozen=True)
class Counts:
    inbox: int
    outbox: int
    received: int
    tickets: int
    messages: int
    events: int
    feedback: int

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(a - b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)))


async def counts(desk: Desk) -> Counts:
    return Counts(
        inbox=await count_rows(desk, InboxEvent),
        outbox=await count_rows(desk, OutboxMessage),
        received=len(desk.sender.messages),
        tickets=await count_rows(desk, Ticket),
        messages=await count_rows(desk, TicketMessage),
        events=await count_rows(desk, TicketEvent),
        feedback=await count_rows(desk, KbFeedback),
    )


def text(who: str, key: str, body: str, ticket_id: int | None = None) -> Incoming:
    return Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=key, text=body, ticket_id=ticket_id)


def press(who: str, key: str, action: str, ticket_id: int | None = None, value: str | None = None) -> Incoming:
    return Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=key, action=action,
                    ticket_id=ticket_id, value=value)


async def deliver(desk: Desk, inc: Incoming, mode: str) -> list[Outcome]:
    if mode == "sequential":
        outcomes = [await desk.app.engine.handle(inc) for _ in range(REPEATS)]
    else:
        outcomes = list(await asyncio.gather(*(desk.app.engine.handle(inc) for _ in range(REPEATS))))
    while await desk.app.worker.deliver_pending():
        pass
    return outcomes


# Each step: the event, and what one delivery of it adds (tickets, history messages, audit
# events, KB feedback rows). Replies are checked against what the one real delivery returned.
STEPS: list[tuple[str, Incoming, tuple[int, int, int, int]]] = [
    ("first message", text("anna", "tg:1", "не работает VPN"), (0, 0, 0, 1)),  # 1 suggestion shown
    ("open ticket press", press("anna", "tg:2", "open_ticket"), (0, 0, 0, 0)),
    ("category confirmed: ticket filed", press("anna", "tg:3", "cat_ok"), (1, 1, 1, 0)),
    ("agent claims", press("boris", "tg:4", "claim", 1), (0, 0, 1, 0)),
    ("agent replies", text("boris", "tg:5", "/reply 1 Переустановите клиент VPN"), (0, 1, 1, 0)),
    ("requester answers in the thread", text("anna", "tg:6", "Не помогло", ticket_id=1), (0, 1, 1, 0)),
    ("agent presses resolve: asked for a note", press("boris", "tg:7", "resolve", 1), (0, 0, 0, 0)),
    ("agent resolves with a note", text("boris", "tg:7b", "reinstalled the client"), (0, 0, 1, 0)),
    ("requester rates", press("anna", "tg:8", "rate", 1, "5"), (0, 0, 2, 0)),  # rate + close
]


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
async def test_every_step_of_a_ticket_is_handled_once_however_often_it_arrives(quiet_desk: Desk, mode: str) -> None:
    desk = quiet_desk
    for step, inc, (tickets_added, messages_added, events_added, feedback_added) in STEPS:
        before = await counts(desk)
        outcomes = await deliver(desk, inc, mode)
        delta = await counts(desk) - before

        handled = [o for o in outcomes if not o.duplicate]
        assert len(handled) == 1, f"{step}: handled {len(handled)} times"
        assert all(o.outgoing == [] for o in outcomes if o.duplicate), step
        replies = len(handled[0].outgoing)
        assert replies > 0, step
        assert delta == Counts(
            inbox=1, outbox=replies, received=replies, tickets=tickets_added, messages=messages_added,
            events=events_added, feedback=feedback_added,
        ), step

    # the whole story, redelivered late, changes nothing any more
    before = await counts(desk)
    for _, inc, _ in STEPS:
        assert all(o.duplicate for o in await deliver(desk, inc, mode))
    assert await counts(desk) == before


async def test_a_repeated_first_message_shows_the_suggestions_once(quiet_desk: Desk) -> None:
    desk = quiet_desk
    inc = text("anna", "slack:Ev1", "VPN не подключается")
    await deliver(desk, inc, "concurrent")
    received = desk.new("anna")
    assert [m.text.split("\n")[0] for m in received] == ["Возможно, ответ есть в этих статьях:"]
    assert [b.action for b in received[0].buttons] == ["kb_open", "open_ticket"]


async def test_a_new_key_with_the_same_content_is_a_new_event(quiet_desk: Desk) -> None:
    """De-duplication is by event key, not by content: the same words sent twice are two messages."""
    desk = quiet_desk
    await desk.say("anna", "принтер не печатает")
    await desk.click("anna", "cat_ok")
    before = await counts(desk)
    await desk.say("boris", "/note 1 проверить картридж")
    await desk.say("boris", "/note 1 проверить картридж")
    delta = await counts(desk) - before
    assert (delta.inbox, delta.messages, delta.events) == (2, 2, 2)


async def test_a_double_tap_files_one_ticket(quiet_desk: Desk) -> None:
    """Two taps on "Yes" arrive as two events (two keys) at the same moment: the second must see
    the state the first left (idle) and be told the button is stale, not file a second ticket.

    Regression: on PostgreSQL both read the flow state before either committed, and filed
    two tickets (hidden in production only by a row lock the sender's last-seen update took)."""
    desk = quiet_desk
    await desk.say("anna", "принтер не печатает")
    taps = [press("anna", f"tap:{i}", "cat_ok") for i in range(2)]
    outcomes = await asyncio.gather(*(desk.app.engine.handle(tap) for tap in taps))
    assert await count_rows(desk, Ticket) == 1
    answers = sorted(out.reply.text.split(":")[0] for o in outcomes for out in o.outgoing
                     if out.destination.chat_id == "anna")
    assert answers == ["Заявка #1 создана", "Этот запрос уже не активен. Просто напишите вопрос ещё раз."]
