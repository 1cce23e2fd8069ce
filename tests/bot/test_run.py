"""``deskbot run`` in process: a test frontend behind the one HTTP server, /healthz, /metrics,
the engine's on_handled hook, and a stop that finishes the event in hand."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from pydantic import SecretStr
import pytest

from bot.config import Config
from bot.metrics import Metrics, event_kind
from bot.run import Runner, StartError
from handlers.events import Incoming, Outcome
from store import health
from store.db import Database
from tests.bot.loop_frontend import LoopFrontend
from tests.support.clock import FakeClock


class Client:
    """Talks to a running :class:`Runner` over loopback HTTP, as people and Prometheus would."""

    def __init__(self, runner: Runner, session: aiohttp.ClientSession) -> None:
        self.runner = runner
        self.session = session
        self.keys = iter(range(1, 10_000))

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.runner.url + path) as resp:
            body = await (resp.json() if resp.content_type == "application/json" else resp.text())
            return resp.status, body

    async def event(self, who: str, **fields: Any) -> dict[str, Any]:
        async with self.session.post(self.runner.url + "/loop/event",
                                     json={"who": who, "key": next(self.keys), **fields}) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data

    async def say(self, who: str, text: str) -> dict[str, Any]:
        return await self.event(who, text=text)

    async def press(self, who: str, answer: dict[str, Any], label: str) -> dict[str, Any]:
        buttons = [b for r in answer["replies"] for b in r["buttons"] if label in b["label"]]
        assert buttons, f"no button {label!r} in {answer['replies']}"
        b = buttons[0]
        return await self.event(who, action=b["action"], ticket_id=b.get("ticket_id"), value=b.get("value"))

    async def metric(self, name: str, **labels: str) -> float | None:
        status, text = await self.get("/metrics")
        assert status == 200
        return sample(text, name, **labels)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format (None if absent)."""
    for line in text.splitlines():
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


FILED = re.compile(r"Заявка #(\d+) создана")


async def file_ticket(client: Client, who: str, text: str) -> int:
    """Walk the requester flow (skip the articles, confirm) until a ticket is filed; its number."""
    answer = await client.say(who, text)
    for _ in range(4):
        filed = [m.group(1) for r in answer["replies"] if (m := FILED.search(r["text"]))]
        if filed:
            return int(filed[0])
        labels = [b["label"] for r in answer["replies"] for b in r["buttons"]]
        answer = await client.press(who, answer, "Создать заявку" if "Создать заявку" in labels else "Да")
    raise AssertionError(f"no ticket filed: {answer}")


@pytest.fixture
async def running(config: Config, db_url: str) -> AsyncIterator[tuple[Runner, LoopFrontend, Client]]:
    frontend = LoopFrontend()
    runner = Runner(config, [frontend], listen="127.0.0.1:0", database_url=db_url, idle_seconds=0.2)
    await runner.start()
    async with aiohttp.ClientSession() as session:
        yield runner, frontend, Client(runner, session)
    await runner.stop()


async def test_healthz_reports_database_platforms_outbox_and_pid(running: tuple[Runner, LoopFrontend, Client]) -> None:
    runner, frontend, client = running
    assert runner.address is not None and runner.address[0] == "127.0.0.1" and runner.address[1] > 0

    status, body = await client.get("/healthz")

    assert status == 200, body
    assert body["status"] == "ok" and body["pid"] == os.getpid()
    assert body["database"] == {"ok": True}
    assert body["platforms"]["loop"]["connected"] is True
    assert body["worker"] == {"running": True}
    assert body["outbox"] == {"backlog": 0, "oldest_age_seconds": 0.0}


async def test_healthz_is_503_when_a_platform_is_disconnected(running: tuple[Runner, LoopFrontend, Client]) -> None:
    runner, frontend, client = running
    frontend.connected = False

    status, body = await client.get("/healthz")

    assert status == 503 and body["status"] == "unhealthy"
    assert body["platforms"]["loop"]["connected"] is False and body["database"]["ok"] is True


async def test_healthz_is_503_when_the_database_is_unreachable(running: tuple[Runner, LoopFrontend, Client]) -> None:
    runner, frontend, client = running
    # Nothing listens on port 1 of the loopback: connection refused.
    down = Database("postgresql+asyncpg://desk:Pg-SECRET-pw@127.0.0.1:1/desk")
    real, runner.status.db = runner.status.db, down
    try:
        status, body = await client.get("/healthz")
        metrics_status, text = await client.get("/metrics")
    finally:
        runner.status.db = real
        await down.dispose()

    assert status == 503 and body["database"]["ok"] is False
    assert "Pg-SECRET-pw" not in str(body)
    assert body["platforms"]["loop"]["connected"] is True
    assert metrics_status == 200 and "deskbot_event_handling_seconds" in text  # counters still served


async def test_metrics_move_after_a_ticket(running: tuple[Runner, LoopFrontend, Client]) -> None:
    runner, frontend, client = running
    assert await client.metric("deskbot_tickets_opened_total", team="it") is None
    assert await client.metric("deskbot_sends_total", platform="loop", outcome="error") == 0.0

    number = await file_ticket(client, "anna", "Не работает VPN, не могу подключиться из дома")

    await frontend.sender.wait_for("anna", f"#{number}")  # the worker was woken and delivered
    status, text = await client.get("/metrics")
    assert status == 200
    assert sample(text, "deskbot_tickets_opened_total", team="it") == 1.0
    assert sample(text, "deskbot_tickets_open", team="it") == 1.0
    assert (sample(text, "deskbot_events_handled_total", platform="loop", kind="text") or 0) >= 1
    assert (sample(text, "deskbot_events_handled_total", platform="loop", kind="button") or 0) >= 1
    handled = sum(
        sample(text, "deskbot_events_handled_total", platform="loop", kind=k) or 0 for k in ("text", "button")
    )
    assert sample(text, "deskbot_event_handling_seconds_count", platform="loop") == handled
    assert sample(text, "deskbot_outbox_backlog") is not None

    answer = await client.say("boris", f"/take {number}")
    assert answer["replies"], "boris is told he took it"
    answer = await client.say("boris", f"/resolve {number} restarted the VPN gateway")
    assert await client.metric("deskbot_tickets_resolved_total", team="it") == 1.0
    assert await client.metric("deskbot_tickets_open", team="it") in (None, 0.0)


async def test_a_redelivered_event_counts_as_duplicate(running: tuple[Runner, LoopFrontend, Client]) -> None:
    runner, frontend, client = running
    body = {"who": "anna", "key": "same-update", "text": "привет"}
    async with client.session.post(runner.url + "/loop/event", json=body) as first:
        assert (await first.json())["duplicate"] is False
    async with client.session.post(runner.url + "/loop/event", json=body) as second:
        assert (await second.json())["duplicate"] is True

    assert await client.metric("deskbot_events_handled_total", platform="loop", kind="duplicate") == 1.0


async def test_outbox_backlog_and_oldest_age_while_a_platform_fails(config: Config, sqlite_url: str) -> None:
    clock = FakeClock()
    frontend = LoopFrontend()

    async def failing_send(dest: Any, reply: Any) -> str | None:
        raise ConnectionError("platform down")

    frontend.sender.send = failing_send  # type: ignore[method-assign]
    runner = Runner(config, [frontend], listen="127.0.0.1:0", database_url=sqlite_url, clock=clock,
                    idle_seconds=0.2)
    await runner.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(runner, session)
            await client.say("anna", "/help")
            clock.advance(minutes=5)
            status, body = await client.get("/healthz")
            text = (await client.get("/metrics"))[1]
    finally:
        await runner.stop()

    assert body["outbox"]["backlog"] >= 1 and body["outbox"]["oldest_age_seconds"] == 300.0
    assert status == 200  # a backlog alone is reported, not a failure
    assert sample(text, "deskbot_outbox_backlog") == body["outbox"]["backlog"]
    assert sample(text, "deskbot_outbox_oldest_age_seconds") == 300.0


async def test_stop_finishes_the_event_in_hand_and_leaves_undelivered_rows(config: Config, sqlite_url: str) -> None:
    frontend = LoopFrontend()
    frontend.hold = asyncio.Event()
    runner = Runner(config, [frontend], listen="127.0.0.1:0", database_url=sqlite_url, idle_seconds=0.2)
    await runner.start()
    url = runner.url
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.post(url + "/loop/event", json={"who": "anna", "key": 1, "text": "/help"}))
        await asyncio.wait_for(frontend.holding.wait(), 5)
        stopping = asyncio.create_task(runner.stop())
        await asyncio.wait_for(runner.stopping.wait(), 5)
        frontend.hold.set()  # the event in hand completes while the desk is stopping
        resp = await asyncio.wait_for(request, 10)
        assert resp.status == 200 and (await resp.json())["replies"]
        resp.release()
        await asyncio.wait_for(stopping, 10)
    assert frontend.stopped.is_set()

    db = Database(sqlite_url)
    try:
        async with db.transaction() as s:
            counts = await health.outbox_backlog(s)
    finally:
        await db.dispose()
    # Committed before the stop finished; its reply is either delivered or still queued, never lost.
    assert counts.pending + len(frontend.sender.sent) >= 1


async def test_start_fails_cleanly_when_the_port_is_taken(config: Config, sqlite_url: str) -> None:
    first = Runner(config, [LoopFrontend()], listen="127.0.0.1:0", database_url=sqlite_url)
    await first.start()
    try:
        assert first.address is not None
        second_frontend = LoopFrontend()
        second = Runner(config, [second_frontend], listen=f"127.0.0.1:{first.address[1]}",
                        database_url=sqlite_url)
        with pytest.raises(StartError, match="cannot listen on 127.0.0.1:"):
            await second.start()
        assert not second_frontend.started.is_set()  # nothing else happened
    finally:
        await first.stop()


def test_a_runner_needs_a_platform(config: Config, sqlite_url: str) -> None:
    with pytest.raises(StartError, match="no platform"):
        Runner(config, [], database_url=sqlite_url)


# --- the engine hook and the metrics vocabulary ----------------------------------------------


async def test_on_handled_is_told_of_every_event_with_its_duration(config: Config, sqlite_url: str) -> None:
    from bot.app import build
    from tests.support.desk import RecordingSender

    seen: list[tuple[Incoming, Outcome, float]] = []
    app = build(config, senders={"console": RecordingSender()}, database_url=sqlite_url,
                on_handled=lambda inc, out, secs: seen.append((inc, out, secs)))
    await app.start()
    try:
        await app.add_identities("console")
        inc = Incoming(platform="console", chat_id="anna", user_id="anna", event_key="k1", text="/help")
        await app.engine.handle(inc)
        await app.engine.handle(inc)
    finally:
        await app.close()

    assert [(i.event_key, o.duplicate) for i, o, _ in seen] == [("k1", False), ("k1", True)]
    assert all(0 <= secs < 30 for _, _, secs in seen) and seen[0][1].outgoing


async def test_a_failing_on_handled_hook_does_not_fail_the_event(config: Config, sqlite_url: str) -> None:
    from bot.app import build
    from tests.support.desk import RecordingSender

    def broken(inc: Incoming, out: Outcome, secs: float) -> None:
        raise RuntimeError("observer bug")

    app = build(config, senders={"console": RecordingSender()}, database_url=sqlite_url, on_handled=broken)
    await app.start()
    try:
        await app.add_identities("console")
        outcome = await app.engine.handle(
            Incoming(platform="console", chat_id="anna", user_id="anna", event_key="k1", text="/help"))
    finally:
        await app.close()
    assert outcome.outgoing and not outcome.duplicate


@pytest.mark.parametrize(
    ("inc", "kind"),
    [
        (Incoming("telegram", "1", "1", "k", text="hello"), "text"),
        (Incoming("telegram", "1", "1", "k", text="/my"), "command"),
        (Incoming("telegram", "1", "1", "k", action="claim", ticket_id=3), "button"),
        (Incoming("telegram", "1", "1", "k", text="fixed", edit_of="17"), "edit"),
        (Incoming("telegram", "1", "1", "k", signal="blocked"), "signal"),
    ],
)
def test_event_kinds(inc: Incoming, kind: str) -> None:
    assert event_kind(inc, Outcome()) == kind
    assert event_kind(inc, Outcome(duplicate=True)) == "duplicate"


def test_sends_and_429s_are_counted_per_platform_and_outcome() -> None:
    metrics = Metrics(["telegram"])
    for outcome in ("sent", "sent", "edited", "retry_after", "blocked", "error", "something-new"):
        metrics.record_send("telegram", outcome)
    text = metrics.render().decode()

    assert sample(text, "deskbot_sends_total", platform="telegram", outcome="sent") == 2.0
    assert sample(text, "deskbot_sends_total", platform="telegram", outcome="edited") == 1.0
    assert sample(text, "deskbot_sends_total", platform="telegram", outcome="retry_after") == 1.0
    assert sample(text, "deskbot_sends_total", platform="telegram", outcome="error") == 2.0
    assert sample(text, "deskbot_rate_limited_total", platform="telegram") == 1.0
    # A registry of its own: another Metrics starts from zero.
    assert sample(Metrics(["telegram"]).render().decode(), "deskbot_sends_total",
                  platform="telegram", outcome="sent") == 0.0


async def test_a_frontend_that_cannot_start_is_one_clear_line_without_the_token(
    config: Config, sqlite_url: str
) -> None:
    token = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
    configured = config.model_copy(update={"telegram": config.telegram.model_copy(
        update={"token": SecretStr(token)})})

    class Unauthorized(LoopFrontend):
        async def start(self) -> None:
            raise RuntimeError(f"Telegram server says - Unauthorized (token {token})\nmore detail")

    runner = Runner(configured, [Unauthorized()], listen="127.0.0.1:0", database_url=sqlite_url)
    with pytest.raises(StartError) as info:
        await runner.start()

    assert str(info.value) == "loop: cannot start: RuntimeError: Telegram server says - Unauthorized (token ***)"
    assert runner.address is not None
    # Everything started was undone: the port is free again.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", runner.address[1])
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("argv", "fmt", "level", "listen"),
    [
        (["run"], "text", None, None),
        (["--log-format", "json", "run"], "json", None, None),
        (["run", "--log-format", "json", "--listen", "127.0.0.1:0"], "json", None, "127.0.0.1:0"),
        (["--log-level", "DEBUG", "run", "--log-format", "text"], "text", "DEBUG", None),
    ],
)
def test_run_options_before_or_after_the_command(argv: list[str], fmt: str, level: str | None,
                                                 listen: str | None) -> None:
    from bot.cli import make_parser

    args = make_parser().parse_args(argv)
    assert (args.log_format, args.log_level, args.listen) == (fmt, level, listen)
