"""Long polling that confirms an update only after it was handled and committed.

What aiogram does by default: ``Dispatcher.start_polling`` reads ``getUpdates`` in
``_listen_updates`` and, with the default ``handle_as_tasks=True``, starts each update
as an ``asyncio`` task and goes straight on; the next ``getUpdates`` carries
``offset = last update_id + 1``, which tells Telegram to forget every update up to
there — while their tasks may still be running. A process that dies then (deploy,
OOM, SIGKILL) has confirmed updates it never handled: they are lost. Even with
``handle_as_tasks=False`` an update whose handler raised is confirmed all the same
(``_process_update`` logs the exception and returns), so a database hiccup loses the
message too.

Here the offset passes an update only after ``Dispatcher.feed_update`` returned — the
engine's transaction committed. A failing update is retried with backoff (while the
database is unreachable, without limit; otherwise ``max_attempts`` times, then it is
logged at ERROR with its id and skipped, so one poisonous update cannot stall the
desk). A process killed mid-batch has confirmed none of the batch and gets it again;
the engine's inbox (``event_key``) makes the redelivered updates harmless.

:meth:`Poller.stop` ends the long-poll wait at once, lets the update in hand finish,
and confirms what was handled with a last ``getUpdates(limit=1, timeout=0)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger("deskbot.telegram.polling")

DEFAULT_TIMEOUT = 30  # seconds Telegram holds a getUpdates open when there is nothing new
FETCH_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # after failed getUpdates calls
HANDLE_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)  # between attempts at one failing update


class GetRawUpdates(GetUpdates):
    """getUpdates answered as plain JSON objects, each parsed on its own: with aiogram's
    ``list[Update]`` one update its models cannot read fails the whole batch, for ever."""

    __returning__ = list[dict[str, Any]]


class Poller:
    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        allowed_updates: Sequence[str] | None = None,
        max_attempts: int = 5,
        database_up: Callable[[], Awaitable[bool]] | None = None,
        fetch_backoff: Sequence[float] = FETCH_BACKOFF,
        handle_backoff: Sequence[float] = HANDLE_BACKOFF,
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.allowed_updates = list(allowed_updates) if allowed_updates is not None else None
        self.max_attempts = max_attempts
        self.database_up = database_up
        self.fetch_backoff = tuple(fetch_backoff)
        self.handle_backoff = tuple(handle_backoff)
        self.offset: int | None = None  # the next update_id to ask for (all before it are handled)
        self.connected = False  # running, and the last getUpdates did not fail
        self.handled = 0
        self.skipped = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop waiting for updates now; the update being handled finishes first."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        failures = 0
        self.connected = True  # the frontend's getMe just answered
        try:
            while not self._stopping.is_set():
                try:
                    updates = await self._until_stopped(self._fetch())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the network or the Bot API: try again
                    self.connected = False
                    delay = self.fetch_backoff[min(failures, len(self.fetch_backoff) - 1)]
                    failures += 1
                    log.warning("getUpdates failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                    await self._pause(delay)
                    continue
                if updates is None:  # stopped while waiting
                    break
                self.connected = True
                failures = 0
                for update_id, update in updates:
                    if update is not None and not await self._handle(update):
                        break  # stopped while retrying: not confirmed, so it comes again
                    self.offset = update_id + 1
                    if self._stopping.is_set():
                        break
            await self._confirm()
        finally:
            self.connected = False

    # --- steps --------------------------------------------------------------------------

    async def _fetch(self) -> list[tuple[int, Update | None]]:
        """The next batch as (update_id, update); ``None`` for one that cannot be read (it is
        logged and confirmed: reading it again would fail the same way)."""
        call = GetRawUpdates(offset=self.offset, timeout=self.timeout, allowed_updates=self.allowed_updates)
        # The HTTP request must outlive Telegram's long-poll wait.
        raw: list[dict[str, Any]] = await self.bot(call, request_timeout=self.timeout + 15)
        batch: list[tuple[int, Update | None]] = []
        for body in raw:
            update_id = int(body["update_id"])
            try:
                batch.append((update_id, Update.model_validate(body, context={"bot": self.bot})))
            except ValidationError as exc:
                kinds = [k for k in body if k != "update_id"]
                log.error("update %s (%s) cannot be read: %s; skipping it", update_id, ",".join(kinds),
                          "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]))
                self.skipped += 1
                batch.append((update_id, None))
        return batch

    async def _handle(self, update: Update) -> bool:
        """Handle one update until it succeeded (True) or is given up (True, logged); False
        when stopped before it succeeded."""
        attempt = 0
        while True:
            try:
                await self.dispatcher.feed_update(self.bot, update)
                self.handled += 1
                return True
            except Exception:  # noqa: BLE001 - every failure is retried or reported below
                down = self.database_up is not None and not await self._database_up()
                if not down:
                    attempt += 1
                if attempt >= self.max_attempts:
                    log.exception("update %s failed %d times; skipping it", update.update_id, attempt)
                    self.skipped += 1
                    return True
                delay = self.handle_backoff[min(attempt, len(self.handle_backoff) - 1)]
                log.warning("update %s failed (attempt %d%s); retrying in %.1fs", update.update_id,
                            attempt, ", database unreachable" if down else "", delay, exc_info=True)
                if await self._pause(delay):
                    return False

    async def _database_up(self) -> bool:
        assert self.database_up is not None
        try:
            return await self.database_up()
        except Exception:  # noqa: BLE001
            return False

    async def _confirm(self) -> None:
        """Tell Telegram what was handled (a plain getUpdates with the offset does), so a
        restart does not get those updates again. Best effort: the inbox dedupes anyway."""
        if self.offset is None:
            return
        try:
            await self.bot(GetUpdates(offset=self.offset, limit=1, timeout=0,
                                      allowed_updates=self.allowed_updates), request_timeout=5)
        except Exception as exc:  # noqa: BLE001
            log.info("could not confirm the last updates on stop (%s); they will be redelivered",
                     type(exc).__name__)

    async def _until_stopped(self, work: Awaitable[list[tuple[int, Update | None]]]
                             ) -> list[tuple[int, Update | None]] | None:
        """``work``'s result, or ``None`` (work cancelled) once stop() was called."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            return task.result()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - abandoned on purpose
            pass
        return None

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; True if stop() was called meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
            return True
        except TimeoutError:
            return False
