"""``deskbot run --role``: a web process serves webhooks and never delivers or schedules; a
runner process delivers and schedules and mounts no webhook routes; the runner finds the
rows a web process committed within ``runner.watch_seconds``, not at its idle pass."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest

from bot.cli import make_parser
from bot.config import Config, RunnerConfig, ServerConfig
from bot.run import Runner, StartError
from tests.bot.loop_frontend import LoopFrontend
from tests.bot.test_run import Client
from tests.bot.test_run_runner import HEARTBEAT, Receiver, Ticks, delivered, desk, until

IDLE = 60.0  # the runner's idle pass: far beyond every wait below, so only the watch can explain a delivery


@pytest.fixture
def roles(config: Config) -> Config:
    return config.model_copy(update={"runner": RunnerConfig(lease_seconds=1.0, heartbeat_seconds=HEARTBEAT,
                                                            watch_seconds=0.05)})


def process(config: Config, db_url: str, role: str) -> AbstractAsyncContextManager[tuple[Runner, Client, Ticks]]:
    return desk(config, db_url, idle_seconds=IDLE, role=role)


async def post_event(client: Client, who: str, text: str) -> int:
    async with client.session.post(client.runner.url + "/loop/event",
                                   json={"who": who, "key": 1, "text": text}) as resp:
        return resp.status


async def test_a_web_process_never_runs_the_worker_or_the_scheduler(roles: Config, db_url: str) -> None:
    async with process(roles, db_url, "web") as (web, client, ticks):
        status, health = await client.get("/healthz")
        assert status == 200, health  # healthy without the worker: it is not the runner
        assert health["runner"]["role"] == "web" and health["runner"]["is_runner"] is False
        assert health["worker"] == {"running": False}
        assert health["scheduler"]["running"] is False

        answer = await client.say("anna", "/help")  # handled and committed here
        assert answer["replies"], answer

        # No runner anywhere: even after several heartbeats the web process has not taken the role.
        await until(lambda: web.election.is_runner is False and ticks.runs == 0, timeout=4 * HEARTBEAT)
        assert not web.election.is_runner and delivered(web, "anna") == [] and ticks.runs == 0


async def test_the_runner_delivers_what_the_web_process_wrote_within_the_watch(roles: Config, db_url: str) -> None:
    async with process(roles, db_url, "runner") as (runner, r_client, ticks), \
            process(roles, db_url, "web") as (web, w_client, _):
        assert runner.election.is_runner
        await until(lambda: ticks.runs == 1)
        await w_client.say("anna", "/help")

        waited = await until(lambda: bool(delivered(runner, "anna")), timeout=IDLE / 4)

        assert waited < 5.0  # the watch (0.05 s), not the 60 s idle pass
        assert delivered(web, "anna") == []
        _, health = await r_client.get("/healthz")
        assert health["runner"]["role"] == "runner" and health["worker"] == {"running": True}
        # The web process's /healthz names the runner too (it looks the holder up, never takes it).
        _, web_health = await w_client.get("/healthz")
        assert web_health["runner"]["holder"] == runner.election.me != web.election.me
        assert web_health["runner"]["is_runner"] is False


async def test_a_web_process_follows_the_runner_changing(roles: Config, db_url: str) -> None:
    async with process(roles, db_url, "web") as (web, w_client, _):
        _, health = await w_client.get("/healthz")
        assert health["runner"]["holder"] is None  # no runner yet
        async with process(roles, db_url, "runner") as (runner, _, _):
            await until(lambda: web.election.holder == runner.election.me, timeout=6 * HEARTBEAT)
        # the runner stopped and gave the lock up: the web process sees nobody again
        await until(lambda: web.election.holder is None, timeout=6 * HEARTBEAT)
        assert not web.election.is_runner


async def test_a_runner_process_takes_no_webhooks(roles: Config, db_url: str) -> None:
    async with process(roles, db_url, "runner") as (runner, client, _):
        assert await post_event(client, "anna", "/help") == 404
        status, health = await client.get("/healthz")
        assert status == 200, health
        assert health["runner"]["is_runner"] is True


async def test_a_web_process_refuses_a_frontend_that_receives_without_webhooks(roles: Config, db_url: str) -> None:
    with pytest.raises(StartError, match="poll: receiving without webhooks"):
        Runner(roles, [LoopFrontend(), Receiver()], listen="127.0.0.1:0", database_url=db_url, role="web")


async def test_an_unknown_role_is_refused(roles: Config, db_url: str) -> None:
    with pytest.raises(StartError, match="unknown role 'worker'"):
        Runner(roles, [LoopFrontend()], listen="127.0.0.1:0", database_url=db_url, role="worker")


def test_the_command_line_takes_the_three_roles_and_refuses_others(capsys: Any) -> None:
    parser = make_parser()
    for role in ("all", "web", "runner"):
        assert parser.parse_args(["run", "--role", role]).role == role
    assert parser.parse_args(["run"]).role is None  # the config decides
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["run", "--role", "worker"])
    assert exc.value.code == 2
    assert "invalid choice: 'worker'" in capsys.readouterr().err


def test_the_config_refuses_an_unknown_role_and_a_negative_watch() -> None:
    with pytest.raises(ValueError, match="role"):
        RunnerConfig(role="worker")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="watch_seconds"):
        RunnerConfig(watch_seconds=-1)


async def test_a_failing_watch_is_logged_once_per_outage(roles: Config, db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import bot.run

    real = bot.run.outbox.newest_id
    calls = 0

    async def flaky(s: Any) -> int:
        nonlocal calls
        calls += 1
        if 2 <= calls <= 6:
            raise RuntimeError("database went away")
        return await real(s)

    monkeypatch.setattr(bot.run.outbox, "newest_id", flaky)
    with caplog.at_level("INFO", logger="deskbot.run"):
        async with process(roles, db_url, "runner"):
            await until(lambda: calls >= 9)
    failed = [r for r in caplog.records if r.getMessage().startswith("outbox watch failed")]
    recovered = [r for r in caplog.records if r.getMessage() == "outbox watch works again"]
    assert len(failed) == 1 and "database went away" in failed[0].getMessage()
    assert len(recovered) == 1


# --- several web processes on one port (server.reuse_port) --------------------------------------

def shared_port(config: Config) -> Config:
    return config.model_copy(update={"server": ServerConfig(listen="127.0.0.1:0", reuse_port=True)})


def port(runner: Runner) -> int:
    assert runner.address is not None, "not started"
    return runner.address[1]


def handled(runner: Runner) -> float:
    """Events this process's engine handled (its own counter, not the shared port's /metrics)."""
    return sum(s.value for m in runner.metrics.events.collect() for s in m.samples if s.name.endswith("_total"))


async def answered_by(url: str, key: int) -> tuple[str, int]:
    """POST one event on a new connection (the kernel picks the process per connection): the
    id of the process whose /healthz answered on that same connection, and the event's status."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        async with session.post(url + "/loop/event", json={"who": f"p{key}", "key": key, "text": "/help"}) as resp:
            status = resp.status
        async with session.get(url + "/healthz") as resp:  # the same kept-alive connection
            health = await resp.json()
    return health["runner"]["id"], status


async def test_two_web_processes_share_one_port_and_both_serve(roles: Config, clean_pg_url: str) -> None:
    config = shared_port(roles)
    first = Runner(config, [LoopFrontend()], database_url=clean_pg_url, role="web")
    await first.start()  # port 0: the kernel picks one; the second asks for the same
    second = Runner(config, [LoopFrontend()], listen=f"127.0.0.1:{port(first)}", database_url=clean_pg_url,
                    role="web")
    running = [first]
    try:
        await second.start()
        running.append(second)
        assert second.url == first.url
        ids = {first.election.me, second.election.me}
        seen: set[str] = set()
        for key in range(1, 201):  # new connections until the kernel gave each process one
            who, status = await answered_by(first.url, key)
            assert status == 200 and who in ids
            seen.add(who)
            if seen == ids:
                break
        assert seen == ids, "one process never got a connection"
        assert handled(first) >= 1 and handled(second) >= 1  # both handled events, not only /healthz

        # One of them stops: the other serves every new connection.
        running.remove(first)
        await first.stop()
        for key in range(1000, 1020):
            who, status = await answered_by(second.url, key)
            assert (who, status) == (second.election.me, 200)
    finally:
        for runner in running:
            await runner.stop()


async def test_reuse_port_is_refused_on_sqlite(roles: Config, sqlite_url: str) -> None:
    with pytest.raises(StartError, match="server.reuse_port needs PostgreSQL"):
        Runner(shared_port(roles), [LoopFrontend()], database_url=sqlite_url, role="web")


async def test_a_runner_process_never_shares_the_webhook_port(roles: Config, clean_pg_url: str) -> None:
    config = shared_port(roles)
    web = Runner(config, [LoopFrontend()], database_url=clean_pg_url, role="web")
    await web.start()
    try:
        runner = Runner(config, [LoopFrontend()], listen=f"127.0.0.1:{port(web)}",
                        database_url=clean_pg_url, role="runner")
        assert runner.reuse_port is False
        with pytest.raises(StartError, match="a runner process does not share the webhook port"):
            await runner.start()
    finally:
        await web.stop()


def test_the_config_takes_reuse_port_off_by_default() -> None:
    assert ServerConfig().reuse_port is False
    assert ServerConfig(reuse_port="true").reuse_port is True  # type: ignore[arg-type] # ${DESKBOT_REUSE_PORT}


class Watching(LoopFrontend):
    """Notes whether its process was already listening when it was started."""

    def __init__(self, runner: list[Runner]) -> None:
        super().__init__()
        self.runner = runner
        self.listening_at_start: bool | None = None

    async def start(self) -> None:
        self.listening_at_start = self.runner[0].address is not None
        await super().start()


async def test_a_web_process_listens_only_once_its_frontends_are_started(roles: Config, db_url: str) -> None:
    # On a shared port a new listener gets connections at once: a frontend not yet started would 503 them.
    for role, listening in (("web", False), ("all", True)):  # all: setWebhook needs the server up first
        holder: list[Runner] = []
        frontend = Watching(holder)
        runner = Runner(roles, [frontend], listen="127.0.0.1:0", database_url=db_url, role=role)
        holder.append(runner)
        await runner.start()
        try:
            assert frontend.listening_at_start is listening, role
        finally:
            await runner.stop()
