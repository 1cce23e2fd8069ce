"""Receiving end to end: real slack-bolt behind the frontend's ``POST /slack/events`` over
loopback HTTP, the real engine on a real database, Slack's Web API stood in for by
:class:`~tests.bot.slack.mini_api.MiniSlack`.

The desk's replies are written to the outbox and delivered to a recording sender (the
Slack sender is tested on its own), so what is checked here is what receiving decides:
which requests are handled, how often, with which effect, and how presses are answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
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
from tests.bot.slack.mini_api import (
    SECRET,
    TEAM,
    TOKEN,
    MiniSlack,
    event_body,
    form,
    form_payload,
    sign,
)
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb, make_config, open_ticket
from tests.support.telegram import loopback_socket, serve

ANNA, BORIS = "U0000ANNA", "U000BORIS"  # slack ids of anna (requester) and boris (IT agent) in config.yaml
ANNA_DM, IT_CHANNEL = "D0000ANNA", "C00ITQUEUE"


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
    api: MiniSlack
    front: SlackFrontend
    app: App
    console: Desk
    url: str
    http: aiohttp.ClientSession
    sender: RecordingSender

    async def post(self, body: str, *, content_type: str = "application/json",
                   headers: dict[str, str] | None = None, signed: bool = True) -> int:
        h = {"Content-Type": content_type, **(sign(body) if signed else {}), **(headers or {})}
        async with self.http.post(self.url, data=body.encode(), headers=h) as resp:
            await resp.read()
            return resp.status

    async def event(self, event: dict[str, Any], event_id: str, **kw: Any) -> int:
        return await self.post(event_body(event, event_id), **kw)

    async def interact(self, payload: dict[str, Any], **kw: Any) -> int:
        return await self.post(form_payload(payload), content_type="application/x-www-form-urlencoded", **kw)

    async def command(self, fields: dict[str, str]) -> int:
        return await self.post(form(fields), content_type="application/x-www-form-urlencoded")

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


@asynccontextmanager
async def running(db_url: str) -> AsyncIterator[Running]:
    api = MiniSlack()
    await api.start()
    config = make_config(lambda data: data.__setitem__(
        "slack", {"bot_token": TOKEN, "signing_secret": SECRET, "api_base": api.base_url}))
    sender = RecordingSender(platform="slack")
    front = SlackFrontend(config, sender=sender, desk=Watching())
    app = build(config, senders={"slack": sender, "console": RecordingSender()},
                database_url=db_url, clock=FakeClock(), kb=FakeKb())
    await app.start()
    console = await Desk.open(app)
    front.bind(app)
    sock = loopback_socket()
    runner: web.AppRunner = await serve(front.routes(), sock)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    http = aiohttp.ClientSession()
    try:
        await front.start()
        yield Running(api, front, app, console, url, http, sender)
    finally:
        await http.close()
        await front.stop()
        await front.close()
        await runner.cleanup()
        await app.close()
        await api.close()


def dm(text: str, ts: str, **over: Any) -> dict[str, Any]:
    return {"type": "message", "channel": ANNA_DM, "channel_type": "im", "user": ANNA, "text": text,
            "ts": ts, "event_ts": ts, **over}


def press_payload(button: Button, *, user: str, channel: str, action_ts: str, message_ts: str = "1.0") -> dict[str, Any]:
    return {"type": "block_actions", "team": {"id": TEAM, "domain": "desk"},
            "user": {"id": user, "team_id": TEAM}, "api_app_id": "A0DESK", "token": "x",
            "trigger_id": f"tr-{action_ts}", "channel": {"id": channel},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "message": {"ts": message_ts, "text": "card"},
            "actions": [{"type": "button", "action_id": "b0.0", "block_id": "b", "value": actions.encode(button),
                         "action_ts": action_ts, "text": {"type": "plain_text", "text": button.label}}]}


def raw_press(value: str, *, user: str, channel: str, action_ts: str) -> dict[str, Any]:
    payload = press_payload(Button("x", "claim"), user=user, channel=channel, action_ts=action_ts)
    payload["actions"][0]["value"] = value
    return payload


# --- a DM files a ticket ------------------------------------------------------------------


async def test_a_dm_and_two_presses_file_a_ticket(db_url: str) -> None:
    async with running(db_url) as r:
        assert r.front.health()["connected"] is True and r.front.auth["team_id"] == TEAM  # type: ignore[index]
        assert await r.event(dm("I forgot my password, account locked", "1700000000.000100"), "Ev01") == 200
        key = f"slack:{TEAM}:Ev01"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        got = await r.delivered(ANNA_DM)
        assert got and got[-1].buttons, "the desk asks for the category"
        assert [c["user"] for c in r.api.calls_of("users.info")] == [ANNA]  # the locale, asked once
        ok = next(b for b in got[-1].buttons if b.action == "cat_ok")
        status = await r.interact(press_payload(ok, user=ANNA, channel=ANNA_DM, action_ts="1700000001.1"))
        assert status == 200
        got = await r.delivered(ANNA_DM)
        if got[-1].buttons and any(b.action == "prio" for b in got[-1].buttons):  # priority asked
            prio = got[-1].buttons[0]
            await r.interact(press_payload(prio, user=ANNA, channel=ANNA_DM, action_ts="1700000002.1"))
            got = await r.delivered(ANNA_DM)
        async with r.app.db.transaction() as s:
            tickets = list(await s.exec(select(Ticket)))
            anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
        assert len(tickets) == 1 and tickets[0].requester_id == anna.id and tickets[0].platform == "slack"
        assert "password" in tickets[0].subject.lower() or "password" in (tickets[0].kb_query or "").lower()
        assert any(f"#{tickets[0].id}" in m.text for m in got)
        assert len(r.api.calls_of("users.info")) == 1  # cached per user


# --- retries ------------------------------------------------------------------------------


async def test_the_same_event_retried_three_times_has_one_effect(db_url: str) -> None:
    async with running(db_url) as r:
        body = event_body(dm("VPN is down again", "1700000000.000200"), "Ev02")
        assert await r.post(body) == 200
        replies = len(await r.outbox(ANNA_DM))
        assert replies == 1  # the KB suggestions
        for n in (1, 2, 3):
            assert await r.post(body, headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}) == 200
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{TEAM}:Ev02") == 1
        assert len(await r.outbox(ANNA_DM)) == replies
        assert r.front.desk.handled == 4  # four deliveries reached the engine; three were no-ops


async def test_a_crash_before_the_commit_answers_500_and_the_retry_is_handled_once(db_url: str) -> None:
    async with running(db_url) as r:
        desk = r.front.desk
        assert isinstance(desk, Watching)
        desk.fail_next = 1
        body = event_body(dm("VPN is down", "1700000000.000300"), "Ev03")
        assert await r.post(body) == 500  # acked in the listener, but no 200 went out: Slack retries
        assert await r.count(InboxEvent) == 0
        assert await r.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}) == 200
        assert await r.post(body, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}) == 200
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{TEAM}:Ev03") == 1
        assert len(await r.outbox(ANNA_DM)) == 1


# --- authenticity -------------------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["bad-signature", "no-headers", "no-signature", "six-minutes-old"])
async def test_unsigned_or_stale_requests_are_refused_and_nothing_is_stored(db_url: str, forgery: str) -> None:
    async with running(db_url) as r:
        body = event_body(dm("VPN is down", "1700000000.000400"), "Ev04")
        headers: dict[str, str]
        if forgery == "bad-signature":
            headers = sign(body, secret="not-the-secret")
        elif forgery == "no-headers":
            headers = {}
        elif forgery == "no-signature":
            headers = {"X-Slack-Request-Timestamp": str(int(time.time()))}
        else:
            headers = sign(body, timestamp=int(time.time()) - 6 * 60)
        persons = await r.count(Person)
        assert await r.post(body, headers=headers, signed=False) == 401
        assert await r.count(InboxEvent) == 0
        assert await r.count(OutboxMessage) == 0
        assert await r.count(Person) == persons
        assert r.front.desk.handled == 0 and r.front.health()["refused"] == 1
        assert await r.post(body) == 200  # the same body, signed now: taken
        assert await r.count(InboxEvent) == 1


# --- forged presses -------------------------------------------------------------------------


async def test_forged_presses_are_refused_ephemerally_and_change_nothing(db_url: str) -> None:
    async with running(db_url) as r:
        hr_ticket = await open_ticket(r.console, "anna", "нужна справка с места работы для визы")
        hr = await r.ticket(hr_ticket)
        assert hr.team != "it"
        closed = await open_ticket(r.console, "anna", "принтер не печатает")
        async with r.app.db.transaction() as s:
            t = await s.get(Ticket, closed)
            assert t is not None
            t.status = Status.CLOSED
            s.add(t)
        presses = {
            "another team's ticket": press_payload(Button("Claim", "claim", hr_ticket), user=BORIS,
                                                   channel=IT_CHANNEL, action_ts="1700000010.1"),
            "a closed ticket": press_payload(Button("Claim", "claim", closed), user=BORIS, channel=IT_CHANNEL,
                                             action_ts="1700000011.1"),
            "garbage": raw_press("b1|claim|DROP TABLE|", user=BORIS, channel=IT_CHANNEL, action_ts="1700000012.1"),
            "gesture as a button": press_payload(Button("x", "file_message", None, "forged"), user=BORIS,
                                                 channel=IT_CHANNEL, action_ts="1700000013.1"),
        }
        before = {n: (await r.ticket(n)).model_dump() for n in (hr_ticket, closed)}
        outbox_before = await r.count(OutboxMessage, OutboxMessage.platform == "slack")
        for what, payload in presses.items():
            assert await r.interact(payload) == 200, what
            key = f"slack:{TEAM}:action:{payload['actions'][0]['action_ts']}"
            alert = r.front.desk.outcomes[key].alert  # type: ignore[attr-defined]
            assert alert, f"{what}: refused in place"
            ephemeral = r.api.calls_of("chat.postEphemeral")[-1]
            assert (ephemeral["channel"], ephemeral["user"], ephemeral["text"]) == (IT_CHANNEL, BORIS, alert), what
        assert len(r.api.calls_of("chat.postEphemeral")) == len(presses)
        assert {n: (await r.ticket(n)).model_dump() for n in (hr_ticket, closed)} == before
        assert await r.count(OutboxMessage, OutboxMessage.platform == "slack") == outbox_before  # nothing in the channel
        assert await r.count(Ticket) == 2


# --- slash command, shortcut, reaction ----------------------------------------------------


async def test_helpdesk_subcommands_reach_the_engine_commands(db_url: str) -> None:
    async with running(db_url) as r:
        number = await open_ticket(r.console, "anna", "VPN не подключается")
        status = await r.command({"team_id": TEAM, "user_id": BORIS, "channel_id": IT_CHANNEL, "channel_name": "it",
                                  "command": "/helpdesk", "text": f"take {number}", "trigger_id": "tr-take"})
        assert status == 200
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{TEAM}:cmd:tr-take") == 1
        async with r.app.db.transaction() as s:
            boris = (await s.exec(select(Person).where(Person.key == "boris"))).one()
        t = await r.ticket(number)
        assert t.assignee_id == boris.id and t.status == Status.CLAIMED


async def test_helpdesk_with_text_starts_a_request_in_the_dm(db_url: str) -> None:
    async with running(db_url) as r:
        status = await r.command({"team_id": TEAM, "user_id": ANNA, "channel_id": ANNA_DM,
                                  "channel_name": "directmessage", "command": "/helpdesk",
                                  "text": "VPN is down", "trigger_id": "tr-new"})
        assert status == 200
        got = await r.delivered(ANNA_DM)
        assert got and any(b.action == "kb_open" for b in got[-1].buttons)  # /new VPN… → KB first


async def test_the_message_shortcut_files_the_message_for_its_author(db_url: str) -> None:
    async with running(db_url) as r:
        payload = {"type": "message_action", "callback_id": "create_ticket", "team": {"id": TEAM},
                   "user": {"id": BORIS}, "channel": {"id": "C0GENERAL"}, "trigger_id": "tr-sc",
                   "action_ts": "1700000020.1", "message_ts": "1700000019.0", "token": "x",
                   "message": {"type": "message", "user": ANNA, "ts": "1700000019.0",
                               "text": "I forgot my password, account locked"}}
        assert await r.interact(payload) == 200
        assert [c["users"] for c in r.api.calls_of("conversations.open")] == [ANNA]
        dm_channel = r.api.dms[ANNA]
        got = await r.delivered(dm_channel)
        assert got and any(b.action == "cat_ok" for b in got[-1].buttons)  # straight to the category, no KB
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{TEAM}:action:1700000020.1") == 1


async def test_the_ticket_reaction_files_the_message_for_its_author(db_url: str) -> None:
    async with running(db_url) as r:
        r.api.history[("C0GENERAL", "1700000030.0")] = {"type": "message", "user": ANNA, "ts": "1700000030.0",
                                                        "text": "I forgot my password, account locked"}
        other = {"type": "reaction_added", "user": BORIS, "reaction": "thumbsup", "item_user": ANNA,
                 "item": {"type": "message", "channel": "C0GENERAL", "ts": "1700000030.0"}, "event_ts": "1.2"}
        assert await r.event(other, "Ev05") == 200  # another emoji: acknowledged, nothing filed
        assert not r.api.calls_of("conversations.open")
        ticket = dict(other, reaction="ticket")
        body = event_body(ticket, "Ev06")
        assert await r.post(body) == 200
        assert await r.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
        got = await r.delivered(r.api.dms[ANNA])
        assert sum(1 for m in got if any(b.action == "cat_ok" for b in m.buttons)) == 1  # once, despite the retry
        assert await r.count(InboxEvent, InboxEvent.event_key == f"slack:{TEAM}:Ev06") == 1


async def test_channel_chatter_and_unused_events_are_acknowledged_and_ignored(db_url: str) -> None:
    async with running(db_url) as r:
        chatter = {"type": "message", "channel": IT_CHANNEL, "channel_type": "channel", "user": BORIS,
                   "text": "lunch?", "ts": "1700000040.0"}
        assert await r.event(chatter, "Ev07") == 200
        assert await r.event({"type": "app_home_opened", "user": ANNA, "channel": ANNA_DM, "tab": "home"}, "Ev08") == 200
        own = dict(chatter, bot_id="B0DESKBOT", user="U0DESKBOT", thread_ts="1700000000.0")
        assert await r.event(own, "Ev09") == 200
        assert await r.count(InboxEvent) == 0 and r.front.desk.handled == 0


async def test_a_thread_message_in_the_team_channel_reaches_the_engine(db_url: str) -> None:
    async with running(db_url) as r:
        event = {"type": "message", "channel": IT_CHANNEL, "channel_type": "channel", "user": BORIS,
                 "text": "/queue", "ts": "1700000050.0", "thread_ts": "1700000049.0"}
        assert await r.event(event, "Ev10") == 200
        key = f"slack:{TEAM}:Ev10"
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        assert r.front.desk.outcomes[key].outgoing  # type: ignore[attr-defined]


# --- Socket Mode ----------------------------------------------------------------------------


class RecordingSocket:
    """Stands in for slack_sdk's SocketModeClient on the answering side."""

    def __init__(self, r: Running) -> None:
        import logging

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
            payload = json.loads(event_body(dm("VPN is down", "1700000060.0"), "Ev11"))
            request = SocketModeRequest(type="events_api", envelope_id="env-1", payload=payload)
            await handler.handle(socket, request)  # type: ignore[arg-type]
            await handler.handle(socket, SocketModeRequest(type="events_api", envelope_id="env-2",
                                                           payload=payload, retry_attempt=1))  # type: ignore[arg-type]
            # Acknowledged only once the event's inbox row was committed; the redelivery: no effect.
            assert socket.answers == [("env-1", 1), ("env-2", 1)]
            assert len(await r.outbox(ANNA_DM)) == 1
        finally:
            await handler.client.close()
