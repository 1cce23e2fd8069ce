"""Receiving end to end: real slack-bolt behind the frontend's ``POST /slack/events`` over
loopback HTTP, the fake Slack (tests/fakes/slack.py) signing and posting what Slack would,
the real engine on a real database.

The desk's replies are written to the outbox and delivered to a recording sender (the
Slack sender is tested on its own), so what is checked here is what receiving decides:
which requests are handled, how often, with which effect, and how presses are answered
(refusals: ``chat.postEphemeral`` at the fake).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import func
from sqlmodel import select

from bot.app import App, build
from bot.slack import actions
from bot.slack.frontend import PATH, SlackFrontend
from bot.slack.handoff import Handoff
from handlers.events import Button, Incoming, Outcome
from store.models import InboxEvent, OutboxMessage, Person, Status, Ticket
from tests.fakes.slack import FakeSlack, InboundPost
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb, make_config, open_ticket
from tests.support.slack import SlackChannel, SlackUser
from tests.support.telegram import loopback_socket, serve

ANNA, BORIS = "U0000ANNA", "U000BORIS"  # slack ids of anna (requester) and boris (IT agent) in config.yaml
ANNA_DM, IT_CHANNEL, GENERAL = "D0000ANNA", "C00ITQUEUE", "C0GENERAL"
TOKEN = "xoxb-0000000001-0000000002-receiveTESTtoken"
SECRET = "8f14e45fceea167a5a36dedd4bea2543"


class Watching(Handoff):
    """The real hand-off, remembering outcomes; ``fail_next`` makes the next one crash
    before the engine ran (as a process killed at that point would)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, Outcome] = {}
        self.fail_next = 0

    async def handle(self, inc: Incoming) -> Outcome:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("killed before the engine committed")
        outcome = await super().handle(inc)
        self.outcomes[inc.event_key] = outcome
        return outcome


@dataclass
class Running:
    fake: FakeSlack
    front: SlackFrontend
    app: App
    console: Desk
    sender: RecordingSender
    anna: SlackUser
    boris: SlackUser
    it: SlackChannel
    general: SlackChannel

    @property
    def team(self) -> str:
        return self.fake.team_id

    @property
    def desk(self) -> Watching:
        assert isinstance(self.front.desk, Watching)
        return self.front.desk

    async def count(self, model: Any, *where: Any) -> int:
        async with self.app.db.transaction() as s:
            n: int = (await s.exec(select(func.count()).select_from(model).where(*where))).one()
            return n

    async def outbox(self, chat: str) -> list[OutboxMessage]:
        async with self.app.db.transaction() as s:
            q = select(OutboxMessage).where(OutboxMessage.platform == "slack", OutboxMessage.chat_id == chat)
            return list(await s.exec(q.order_by(OutboxMessage.id)))  # type: ignore[arg-type]

    async def delivered(self, chat: str) -> list[Any]:
        while await self.app.worker.deliver_pending():
            pass
        return [m for m in self.sender.messages if m.chat == chat]

    async def ticket(self, number: int) -> Ticket:
        async with self.app.db.transaction() as s:
            t = await s.get(Ticket, number)
            assert t is not None
            return t

    async def press(self, button: Button, *, user: str, channel: str, message_ts: str = "1700000000.000001",
                    value: str | None = None) -> InboundPost:
        """A press on a button the desk sent (through the recording sender) as Slack posts it."""
        action_ts = f"{time.time():.6f}"
        payload = {"type": "block_actions", "team": self.fake.team_ref(), "user": self.fake.user_ref(user),
                   "api_app_id": self.fake.app_id, "token": self.fake.verification_token,
                   "trigger_id": self.fake.new_trigger(user), "channel": {"id": channel},
                   "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
                   "message": {"ts": message_ts, "text": "card"}, "state": {"values": {}},
                   "actions": [{"type": "button", "action_id": "b0.0", "block_id": "b", "action_ts": action_ts,
                                "value": actions.encode(button) if value is None else value,
                                "text": {"type": "plain_text", "text": button.label}}]}
        return await self.fake.post_interaction(payload)

    def press_key(self, post: InboundPost) -> str:
        return f"slack:{self.team}:action:{post.payload['actions'][0]['action_ts']}"


@asynccontextmanager
async def running(db_url: str) -> AsyncIterator[Running]:
    fake = FakeSlack(token=TOKEN, signing_secret=SECRET, rate_limits=False)
    await fake.start()
    anna = fake.user(ANNA, "Anna Ivanova", locale="ru-RU", tz="Europe/Moscow")
    boris = fake.user(BORIS, "Boris Petrov", locale="en-US")
    it = fake.channel(IT_CHANNEL, "it-queue", members=[BORIS])
    general = fake.channel(GENERAL, "general", members=[ANNA, BORIS])
    config = make_config(lambda data: data.__setitem__(
        "slack", {"bot_token": TOKEN, "signing_secret": SECRET, "api_base": fake.base_url}))
    sender = RecordingSender(platform="slack")
    front = SlackFrontend(config, sender=sender, desk=Watching())
    app = build(config, senders={"slack": sender, "console": RecordingSender()},
                database_url=db_url, clock=FakeClock(), kb=FakeKb())
    await app.start()
    console = await Desk.open(app)
    front.bind(app)
    sock = loopback_socket()
    runner: web.AppRunner = await serve(front.routes(), sock)
    fake.request_url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    try:
        await front.start()
        yield Running(fake, front, app, console, sender, anna, boris, it, general)
    finally:
        await front.stop()
        await front.close()
        await runner.cleanup()
        await app.close()
        await fake.close()


# --- a DM files a ticket ------------------------------------------------------------------


async def test_a_dm_and_a_press_file_a_ticket(db_url: str) -> None:
    async with running(db_url) as r:
        assert r.front.health()["connected"] is True and r.front.auth["team_id"] == r.team  # type: ignore[index]
        said = await r.anna.says("I forgot my password, account locked")
        assert said.status == 200 and not said.post.late
        key = f"slack:{r.team}:{said.post.event_id}"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        got = await r.delivered(ANNA_DM)
        assert got and any(b.action == "cat_ok" for b in got[-1].buttons), "the desk asks for the category"
        infos = r.fake.calls_of("users.info")
        assert [c.params["user"] for c in infos] == [ANNA]  # the locale, asked once
        ok = next(b for b in got[-1].buttons if b.action == "cat_ok")
        assert (await r.press(ok, user=ANNA, channel=ANNA_DM)).status == 200
        got = await r.delivered(ANNA_DM)
        if any(b.action == "prio" for b in got[-1].buttons):  # the desk may ask for the priority
            await r.press(got[-1].buttons[0], user=ANNA, channel=ANNA_DM)
            got = await r.delivered(ANNA_DM)
        async with r.app.db.transaction() as s:
            tickets = list(await s.exec(select(Ticket)))
            anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
        assert len(tickets) == 1 and tickets[0].requester_id == anna.id and tickets[0].platform == "slack"
        assert any(f"#{tickets[0].id}" in m.text for m in got)
        assert len(r.fake.calls_of("users.info")) == 1  # cached per user


# --- retries ------------------------------------------------------------------------------


async def test_the_same_event_retried_three_times_has_one_effect(db_url: str) -> None:
    async with running(db_url) as r:
        said = await r.anna.says("VPN is down again")
        assert said.status == 200
        replies = len(await r.outbox(ANNA_DM))
        assert replies == 1  # the KB suggestions
        retries = await r.fake.redeliver(said.post, 3)
        assert [p.status for p in retries] == [200, 200, 200]
        assert [p.headers["X-Slack-Retry-Num"] for p in retries] == ["1", "2", "3"]
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{r.team}:{said.post.event_id}") == 1
        assert len(await r.outbox(ANNA_DM)) == replies
        assert r.desk.handled == 4  # four deliveries reached the engine; three were no-ops


async def test_a_crash_before_the_commit_answers_500_and_the_retry_is_handled_once(db_url: str) -> None:
    async with running(db_url) as r:
        r.desk.fail_next = 1
        said = await r.anna.says("VPN is down")
        assert said.status == 500  # acked in the listener, but no 200 went out: Slack retries
        assert await r.count(InboxEvent) == 0
        retries = await r.fake.redeliver(said.post, 2, reason="http_error")
        assert [p.status for p in retries] == [200, 200]
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{r.team}:{said.post.event_id}") == 1
        assert len(await r.outbox(ANNA_DM)) == 1


# --- authenticity -------------------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["wrong", "none", "six-minutes-old"])
async def test_unsigned_or_stale_requests_are_refused_and_nothing_is_stored(db_url: str, forgery: str) -> None:
    async with running(db_url) as r:
        persons = await r.count(Person)
        options: dict[str, Any] = ({"timestamp": int(time.time()) - 6 * 60} if forgery == "six-minutes-old"
                                   else {"sign_mode": forgery})
        said = await r.anna.says("VPN is down", **options)
        assert said.status == 401
        assert await r.count(InboxEvent) == 0
        assert await r.count(OutboxMessage) == 0
        assert await r.count(Person) == persons
        assert not r.fake.calls_of("users.info")  # no listener ran
        assert r.desk.handled == 0 and r.front.health()["refused"] == 1
        command = await r.fake.post_command(ANNA, "/helpdesk", "queue", **options)
        assert command.status == 401 and await r.count(InboxEvent) == 0
        again = await r.fake.post_raw(said.post.body, "application/json", kind="event_callback")
        assert again.status == 200  # the same body, signed now: taken
        assert await r.count(InboxEvent) == 1


# --- forged presses -------------------------------------------------------------------------


async def test_forged_presses_are_refused_ephemerally_and_change_nothing(db_url: str) -> None:
    async with running(db_url) as r:
        hr_ticket = await open_ticket(r.console, "anna", "нужна справка с места работы для визы")
        assert (await r.ticket(hr_ticket)).team != "it"
        closed = await open_ticket(r.console, "anna", "принтер не печатает")
        async with r.app.db.transaction() as s:
            t = await s.get(Ticket, closed)
            assert t is not None
            t.status = Status.CLOSED
            s.add(t)
        before = {n: (await r.ticket(n)).model_dump() for n in (hr_ticket, closed)}
        outbox_before = await r.count(OutboxMessage, OutboxMessage.platform == "slack")
        presses = {
            "another team's ticket": dict(button=Button("Claim", "claim", hr_ticket)),
            "a closed ticket": dict(button=Button("Claim", "claim", closed)),
            "garbage": dict(button=Button("Claim", "claim"), value="b1|claim|DROP TABLE|"),
            "gesture as a button": dict(button=Button("x", "file_message", None, "forged")),
        }
        for n, (what, press) in enumerate(presses.items(), 1):
            post = await r.press(user=BORIS, channel=IT_CHANNEL, **press)  # type: ignore[arg-type]
            assert post.status == 200, what
            alert = r.desk.outcomes[r.press_key(post)].alert
            assert alert, f"{what}: refused in place"
            assert len(r.boris.ephemerals) == n, what
            shown = r.boris.ephemerals[-1]
            assert (shown["channel"], shown["text"]) == (IT_CHANNEL, alert), what
        assert {n: (await r.ticket(n)).model_dump() for n in (hr_ticket, closed)} == before
        assert await r.count(OutboxMessage, OutboxMessage.platform == "slack") == outbox_before  # nothing in the channel
        assert await r.count(Ticket) == 2


# --- slash command, shortcut, reaction ----------------------------------------------------


async def test_helpdesk_take_claims_the_ticket(db_url: str) -> None:
    async with running(db_url) as r:
        number = await open_ticket(r.console, "anna", "VPN не подключается")
        typed = await r.boris.slash("/helpdesk", f"take {number}", channel=r.it)
        assert typed.status == 200 and not typed.post.late
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{r.team}:cmd:{typed.trigger_id}") == 1
        async with r.app.db.transaction() as s:
            boris = (await s.exec(select(Person).where(Person.key == "boris"))).one()
        t = await r.ticket(number)
        assert t.assignee_id == boris.id and t.status == Status.CLAIMED


async def test_helpdesk_with_text_starts_a_request_in_the_dm(db_url: str) -> None:
    async with running(db_url) as r:
        typed = await r.anna.slash("/helpdesk", "VPN is down")
        assert typed.status == 200
        got = await r.delivered(ANNA_DM)
        assert got and any(b.action == "kb_open" for b in got[-1].buttons)  # /new VPN… → KB first


async def test_the_message_shortcut_files_the_message_for_its_author(db_url: str) -> None:
    async with running(db_url) as r:
        said = await r.anna.says("I forgot my password, account locked", channel=r.general)
        assert said.status == 200 and await r.count(InboxEvent) == 0  # channel chatter: not the desk's
        run = await r.boris.shortcut(said, "create_ticket")
        assert run.status == 200
        assert [c.params["users"] for c in r.fake.calls_of("conversations.open")] == [ANNA]
        got = await r.delivered(ANNA_DM)
        assert got and any(b.action == "cat_ok" for b in got[-1].buttons)  # straight to the category, no KB
        key = f"slack:{r.team}:action:{run.post.payload['action_ts']}"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        notice = await r.boris.gets_ephemeral("Anna")  # boris is told where it went, in his language
        assert notice["channel"] == GENERAL and notice["text"].startswith("Sent to Anna")


async def test_the_ticket_reaction_files_the_message_for_its_author(db_url: str) -> None:
    async with running(db_url) as r:
        said = await r.anna.says("I forgot my password, account locked", channel=r.general)
        other = await r.boris.reacts(said, "thumbsup")
        assert other.status == 200  # another emoji: acknowledged, nothing filed
        assert not r.fake.calls_of("conversations.open") and await r.count(InboxEvent) == 0
        reacted = await r.boris.reacts(said, "ticket")
        assert reacted.status == 200
        assert [p.status for p in await r.fake.redeliver(reacted.post, 1)] == [200]
        got = await r.delivered(ANNA_DM)
        assert sum(1 for m in got if any(b.action == "cat_ok" for b in m.buttons)) == 1  # once, despite the retry
        assert len(r.boris.ephemerals) == 1  # told once, too
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{r.team}:{reacted.post.event_id}") == 1


async def test_channel_chatter_and_unused_events_are_acknowledged_and_ignored(db_url: str) -> None:
    async with running(db_url) as r:
        assert (await r.boris.says("lunch?", channel=r.it)).status == 200
        messages_tab = {"type": "app_home_opened", "user": r.anna.id, "channel": r.anna.dm["id"], "tab": "messages",
                        "event_ts": r.fake.new_ts()}  # the Messages tab: only the Home tab is the desk's
        assert (await r.fake.post_event(messages_tab)).status == 200
        own = {"type": "message", "channel": IT_CHANNEL, "channel_type": "channel", "user": r.fake.bot_user_id,
               "bot_id": r.fake.bot_id, "text": "#1 card", "ts": r.fake.new_ts(), "thread_ts": "1700000000.000001"}
        assert (await r.fake.post_event(own)).status == 200
        assert await r.count(InboxEvent) == 0 and r.desk.handled == 0


async def test_a_thread_message_in_the_team_channel_reaches_the_engine(db_url: str) -> None:
    async with running(db_url) as r:
        root = await r.boris.says("a card stand-in", channel=r.it)
        said = await r.boris.says("/queue", channel=r.it, thread_ts=root.ts)
        assert said.status == 200
        key = f"slack:{r.team}:{said.post.event_id}"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        inc_out = r.desk.outcomes[key].outgoing
        assert inc_out and inc_out[0].destination.thread_id == root.ts  # answered in that thread


async def test_a_file_shared_in_the_dm_is_an_attachment(db_url: str) -> None:
    async with running(db_url) as r:
        said = await r.anna.says("screenshot of the error", files=[("error.png", b"\x89PNG fake")])
        assert said.status == 200
        key = f"slack:{r.team}:{said.post.event_id}"
        assert key in r.desk.outcomes
        async with r.app.db.transaction() as s:
            inbox = (await s.exec(select(InboxEvent).where(InboxEvent.event_key == key))).one()
        assert inbox is not None
        file_id = said.post.payload["event"]["files"][0]["id"]
        # The engine keeps the reference (kind "file", platform "slack") in the conversation.
        from store.models import Conversation

        async with r.app.db.transaction() as s:
            conv = (await s.exec(select(Conversation).where(Conversation.chat_id == ANNA_DM))).one()
        files = conv.data.get("files") or []
        assert [(f["file_id"], f["kind"], f["platform"], f["name"]) for f in files] == [
            (file_id, "file", "slack", "error.png")]


# --- Socket Mode ----------------------------------------------------------------------------


class RecordingSocket:
    """Stands in for slack_sdk's SocketModeClient on the answering side."""

    def __init__(self, r: Running) -> None:
        self.r = r
        self.logger = logging.getLogger("test.socket")
        self.answers: list[tuple[str, int]] = []  # (envelope id, inbox rows when answered)

    async def send_socket_mode_response(self, response: Any) -> None:
        self.answers.append((response.envelope_id, await self.r.count(InboxEvent)))


async def test_socket_mode_envelopes_are_dispatched_and_answered_after_the_commit(db_url: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    async with running(db_url) as r:
        handler = AsyncSocketModeHandler(r.front.bolt, "xapp-1-A0DESK-1-socket", web_client=r.front.client)
        try:
            socket = RecordingSocket(r)
            event = {"type": "message", "channel": ANNA_DM, "channel_type": "im", "user": ANNA,
                     "text": "VPN is down", "ts": r.fake.new_ts()}
            payload = r.fake.envelope(event)
            await handler.handle(socket, SocketModeRequest(type="events_api", envelope_id="env-1",  # type: ignore[arg-type]
                                                           payload=payload))
            await handler.handle(socket, SocketModeRequest(type="events_api", envelope_id="env-2",  # type: ignore[arg-type]
                                                           payload=payload, retry_attempt=1))
            # Acknowledged only once the event's inbox row was committed; the redelivery: no effect.
            assert socket.answers == [("env-1", 1), ("env-2", 1)]
            assert len(await r.outbox(ANNA_DM)) == 1
        finally:
            await handler.client.close()


# --- the /helpdesk modal ----------------------------------------------------------------------


async def test_the_helpdesk_modal_files_a_request_with_its_category(db_url: str) -> None:
    async with running(db_url) as r:
        typed = await r.anna.slash("/helpdesk")
        assert typed.status == 200 and not typed.post.late
        form = await r.anna.gets_modal()
        assert form.callback_id == "helpdesk_new"
        assert form.title == "Новый запрос"  # anna's Slack locale is ru-RU
        assert set(form.inputs) == {"desc", "category"}
        assert await r.count(InboxEvent) == 0  # opening the form files nothing

        empty = await r.anna.submits(form, {"desc": {"desc": "   "}})
        assert empty.status == 200 and set(empty.errors) == {"desc"}  # back on the field
        assert r.anna.modal is not None and await r.count(InboxEvent) == 0

        sent = await r.anna.submits(form, {"desc": {"desc": "Need access to the CRM for a new colleague"},
                                           "category": {"category": "business_apps"}})
        assert sent.status == 200 and sent.errors == {} and r.anna.modal is None  # closed
        key = f"slack:{r.team}:action:{sent.post.payload['trigger_id']}"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        got = await r.delivered(ANNA_DM)
        assert got, "the desk goes on in the DM"
        # The category was chosen in the form: not asked again; its form questions (or the
        # priority) come next.
        assert not any(b.action in ("cat_ok", "cat") for b in got[-1].buttons)
        async with r.app.db.transaction() as s:
            from store.models import Conversation

            conv = (await s.exec(select(Conversation).where(Conversation.chat_id == ANNA_DM))).one()
        assert conv.data.get("category") == "business_apps" and conv.state in ("form", "priority")


async def test_an_edited_dm_reaches_the_engine_as_an_edit(db_url: str) -> None:
    async with running(db_url) as r:
        said = await r.anna.says("VPN is down")
        assert said.status == 200
        original = said.post.payload["event"]
        changed = {"type": "message", "subtype": "message_changed", "channel": ANNA_DM, "channel_type": "im",
                   "hidden": True, "ts": r.fake.new_ts(),
                   "message": {**{k: v for k, v in original.items() if k not in ("channel", "channel_type")},
                               "text": "VPN is down since 9", "edited": {"user": ANNA, "ts": r.fake.new_ts()}},
                   "previous_message": {k: v for k, v in original.items() if k not in ("channel", "channel_type")}}
        edited = await r.fake.post_event(changed)
        assert edited.status == 200
        key = f"slack:{r.team}:{edited.event_id}"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        async with r.app.db.transaction() as s:
            from store.models import Conversation

            conv = (await s.exec(select(Conversation).where(Conversation.chat_id == ANNA_DM))).one()
        assert "since 9" in conv.data.get("query", "")  # the draft took the new text
