"""The poller's confirmation rule, against an in-memory getUpdates with Telegram's offset
semantics (``getUpdates(offset=N)`` forgets every update below N) and a scripted
dispatcher: an update is confirmed only after it was handled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.telegram.polling import Poller

WAIT = 5.0  # seconds any condition in these tests may take before it is a failure


class Updates:
    """getUpdates as Telegram answers it: unconfirmed updates, or a long-poll wait."""

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []  # as Telegram sends them (JSON)
        self.calls: list[GetUpdates] = []
        self._new = asyncio.Event()
        self._next_id = 100

    def push(self, n: int = 1) -> list[int]:
        ids = []
        for _ in range(n):
            self._next_id += 1
            self.pending.append({"update_id": self._next_id})
            ids.append(self._next_id)
        self._new.set()
        return ids

    def push_raw(self, body: dict[str, Any]) -> int:
        self._next_id += 1
        self.pending.append({"update_id": self._next_id, **body})
        self._new.set()
        return self._next_id

    @property
    def offsets(self) -> list[int | None]:
        return [c.offset for c in self.calls]

    async def __call__(self, method: GetUpdates, request_timeout: int | None = None) -> list[dict[str, Any]]:
        assert isinstance(method, GetUpdates)
        self.calls.append(method)
        if method.offset is not None:
            self.pending = [u for u in self.pending if u["update_id"] >= method.offset]
        if not self.pending and method.timeout:
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), timeout=method.timeout)
            except TimeoutError:
                return []
        return self.pending[: method.limit or 100]


class Script:
    """A dispatcher whose feed_update does what the test says for each update id."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.attempts: dict[int, int] = {}
        self.fail: dict[int, int] = {}  # update id → how many times to raise first
        self.gate: dict[int, asyncio.Event] = {}  # update id → wait for this before finishing
        self.changed = asyncio.Condition()

    async def feed_update(self, bot: Any, update: Update) -> None:
        uid = update.update_id
        self.attempts[uid] = self.attempts.get(uid, 0) + 1
        async with self.changed:
            self.changed.notify_all()
        if uid in self.gate:
            await self.gate[uid].wait()
        try:
            if self.fail.get(uid, 0) > 0:
                self.fail[uid] -= 1
                raise RuntimeError(f"handler failed on {uid}")
            self.done.append(uid)
        finally:
            async with self.changed:
                self.changed.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(condition), WAIT)


def poller(updates: Updates, script: Script, **kw: Any) -> Poller:
    kw.setdefault("handle_backoff", (0.01,))
    kw.setdefault("fetch_backoff", (0.01,))
    return Poller(updates, script, timeout=30, **kw)  # type: ignore[arg-type]


async def test_offset_passes_an_update_only_after_it_was_handled() -> None:
    updates, script = Updates(), Script()
    a, b, c = updates.push(3)
    script.gate[b] = asyncio.Event()
    p = poller(updates, script)
    p.start()
    try:
        await script.until(lambda: script.attempts.get(b, 0) == 1)
        # b is in hand: no getUpdates has confirmed it, and nothing after it was started.
        assert all(o is None or o <= b for o in updates.offsets)
        assert script.done == [a]
        assert p.offset == b
        script.gate[b].set()
        await script.until(lambda: script.done == [a, b, c])
        await asyncio.wait_for(_until(lambda: c + 1 in updates.offsets), WAIT)
        assert updates.pending == []
    finally:
        await p.stop()


async def test_a_failing_update_is_retried_and_holds_back_the_rest() -> None:
    updates, script = Updates(), Script()
    a, b = updates.push(2)
    script.fail[a] = 2
    p = poller(updates, script)
    p.start()
    try:
        await script.until(lambda: script.done == [a, b])
        assert script.attempts[a] == 3
        assert p.skipped == 0
    finally:
        await p.stop()


async def test_a_poisonous_update_is_given_up_after_max_attempts(caplog: pytest.LogCaptureFixture) -> None:
    updates, script = Updates(), Script()
    a, b = updates.push(2)
    script.fail[a] = 99
    p = poller(updates, script, max_attempts=3)
    p.start()
    try:
        await script.until(lambda: script.done == [b])
        assert script.attempts[a] == 3
        assert p.skipped == 1
        assert f"update {a} failed 3 times; skipping it" in caplog.text
    finally:
        await p.stop()


async def test_while_the_database_is_down_failures_do_not_count() -> None:
    updates, script = Updates(), Script()
    (a,) = updates.push(1)
    script.fail[a] = 5
    up = {"ok": False}
    checks = 0

    async def database_up() -> bool:
        nonlocal checks
        checks += 1
        if checks >= 5:
            up["ok"] = True
        return up["ok"]

    p = poller(updates, script, max_attempts=2, database_up=database_up)
    p.start()
    try:
        await script.until(lambda: script.done == [a])
        assert script.attempts[a] == 6  # 4 failures while down did not count, the 5th did, the 6th worked
        assert p.skipped == 0
    finally:
        await p.stop()


async def test_stop_ends_the_long_poll_wait_promptly() -> None:
    updates, script = Updates(), Script()
    p = poller(updates, script)  # a 30 s long poll
    p.start()
    await asyncio.wait_for(_until(lambda: len(updates.calls) == 1), WAIT)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(p.stop(), WAIT)
    assert loop.time() - began < 1.0
    assert not p.running


async def test_stop_lets_the_update_in_hand_finish_and_confirms_it() -> None:
    updates, script = Updates(), Script()
    a, b, c = updates.push(3)
    script.gate[a] = asyncio.Event()
    p = poller(updates, script)
    p.start()
    await script.until(lambda: script.attempts.get(a) == 1)
    stopping = asyncio.ensure_future(p.stop())
    await asyncio.sleep(0)  # let stop() begin; the gate still holds a
    assert not stopping.done()
    script.gate[a].set()
    await asyncio.wait_for(stopping, WAIT)
    assert script.done == [a]  # b and c were not started
    assert updates.offsets[-1] == a + 1  # the last call confirmed a only
    assert [u["update_id"] for u in updates.pending] == [b, c]


async def test_a_poller_that_dies_mid_batch_confirmed_none_of_it() -> None:
    updates, script = Updates(), Script()
    ids = updates.push(5)
    script.gate[ids[2]] = asyncio.Event()
    p = poller(updates, script)
    p.start()
    await script.until(lambda: script.attempts.get(ids[2]) == 1)
    assert p._task is not None
    p._task.cancel()  # dies: no stop(), no confirmation
    with pytest.raises(asyncio.CancelledError):
        await p._task
    assert [u["update_id"] for u in updates.pending] == ids  # the whole batch is still unconfirmed

    again = Script()
    p2 = poller(updates, again)
    p2.start()
    try:
        await again.until(lambda: again.done == ids)  # the engine's inbox makes the repeats harmless
    finally:
        await p2.stop()


async def test_getupdates_failures_back_off_and_recover() -> None:
    updates, script = Updates(), Script()
    (a,) = updates.push(1)
    failures = {"left": 3}
    real = updates.__call__

    async def flaky(method: GetUpdates, request_timeout: int | None = None) -> list[dict[str, Any]]:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("network down")
        return await real(method, request_timeout)

    p = Poller(flaky, script, timeout=30, fetch_backoff=(0.01,))  # type: ignore[arg-type]
    p.start()
    try:
        await script.until(lambda: script.done == [a])
        assert failures["left"] == 0
        await asyncio.wait_for(_until(lambda: p.connected), WAIT)
    finally:
        await p.stop()


async def test_an_update_aiogram_cannot_read_is_logged_and_does_not_block_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    updates, script = Updates(), Script()
    (a,) = updates.push(1)
    bad = updates.push_raw({"message": {"message_id": 1, "chat": {"id": 1}}})  # no date, no chat type
    (c,) = updates.push(1)
    p = poller(updates, script)
    p.start()
    try:
        await script.until(lambda: script.done == [a, c])
        assert bad not in script.attempts
        assert p.skipped == 1
        assert f"update {bad} (message) cannot be read" in caplog.text
        await asyncio.wait_for(_until(lambda: c + 1 in updates.offsets), WAIT)
    finally:
        await p.stop()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)
