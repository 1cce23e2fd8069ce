"""The desk over Socket Mode, end to end: ``slack.app_token`` set, the real SlackFrontend
connects with bolt's AsyncSocketModeHandler to the fake's websocket (apps.connections.open
with the app token), and every request arrives as an envelope that is acked after the
engine's commit. A DM becomes a ticket, its card reaches the IT channel, a claim press
works, and a redelivered envelope (``retry_attempt``) changes nothing."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from handlers.texts import translator
from store.models import InboxEvent, OutboxMessage, Status, TicketMessage
from tests.support.story import WAIT, Desk, desk, with_button

ru = translator("ru")
PROBLEM = "не печатает принтер на третьем этаже"
QUESTION = "Какая модель принтера?"


async def _counts(d: Desk) -> list[int]:
    """Inbox events, outbox rows and ticket messages in the desk's store."""
    async with d.app.db.transaction() as s:
        return [(await s.exec(select(func.count()).select_from(t))).one()
                for t in (InboxEvent, OutboxMessage, TicketMessage)]


async def test_a_ticket_is_filed_and_claimed_over_socket_mode(db_url: str) -> None:
    async with desk(db_url, socket_mode=True) as d:
        anna, boris, it, fake = d.anna, d.boris, d.it, d.slack
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)
        await fake.wait_socket(WAIT)
        assert fake.calls_of("apps.connections.open") and fake.request_url is None
        assert d.front.health()["connected"] is True and d.front.health()["mode"] == "socket"

        said = await anna.says(PROBLEM)
        assert said.post is not None and said.post.transport == "socket" and said.status == 200
        await anna.presses(await with_button(anna, ru("btn_open_ticket")), ru("btn_open_ticket"))
        yes = ru("btn_yes_category", category="").strip(" ,")
        guess = await with_button(anna, yes)
        await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
        await anna.sees("#1", timeout=WAIT)

        card = await with_button(it, team("btn_claim"))
        claimed = await boris.presses(card, team("btn_claim"))
        assert claimed.post is not None and claimed.post.transport == "socket" and claimed.status == 200
        await fake.wait_for(lambda: team("btn_claim") not in card.buttons or None, WAIT)
        assert "Boris" in card.text and (await d.ticket()).status == Status.CLAIMED

        asked = await boris.says(QUESTION, channel=it, thread_ts=card.ts)
        await anna.sees(QUESTION, timeout=WAIT)
        before = await _counts(d)
        retries = await fake.redeliver(asked.post, times=2)  # type: ignore[arg-type]
        assert [(p.transport, p.retry_num, p.status) for p in retries] == [("socket", 1, 200), ("socket", 2, 200)]
        assert await _counts(d) == before  # acked, and nothing recorded, filed or sent again
        assert len([m for m in anna.messages() if QUESTION in m.text]) == 1

        socket_posts = [p for p in fake.posts if p.transport == "socket"]
        assert len(socket_posts) == len(fake.posts) and all(p.status == 200 for p in socket_posts)
        assert fake.late_posts == []  # every envelope acked within Slack's 3 s

        # Slack asks for a reconnect: the handler opens a new connection, health follows it,
        # and boris (ru) is answered over the new one.
        await fake.disconnect_sockets()
        await fake.wait_for(lambda: (fake.socket_connections == 2 and fake.socket_connected) or None, WAIT)
        assert d.front.health()["connected"] is True
        await boris.says("/note проверил картридж", channel=it, thread_ts=card.ts)
        await it.sees(ru("note_added", n=1), thread_ts=card.ts, timeout=WAIT)
    assert d.front.health()["connected"] is False
