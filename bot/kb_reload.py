"""Rebuilding a running desk's KB matcher without a restart.

Every process (each ``deskbot run`` replica, the console) polls, every
``desk.kb_reload_seconds``: when the latest ``deskbot kb reload`` request (a ``kb_reload``
row) is newer than the one it last saw, it rebuilds the matcher from the current article
files and the learned questions (``kb_learned``); otherwise it rebuilds only if an article
file changed (``Matcher.reload_if_changed``). The rebuild runs in a worker thread and the
index is swapped atomically: searches meanwhile see the old or the new index, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from store import kb_learning
from store.db import Database

log = logging.getLogger("deskbot.kb")


class KbReloader:
    """Keeps one process's matcher in step with the KB files and the learned questions."""

    def __init__(self, db: Database, kb: Any, *, interval: float) -> None:
        self.db = db
        self.kb = kb
        self.interval = interval
        self.seen: int | None = None  # the latest reload request already applied
        self.reloads = 0  # rebuilds done here (for logs and tests)
        # A KB without reload (a test fake) is left alone.
        self.enabled = callable(getattr(kb, "reload", None))

    async def prime(self) -> None:
        """At start: build with the learned questions so far; requests made before now are done."""
        if not self.enabled:
            return
        async with self.db.transaction() as s:
            latest = await kb_learning.latest_reload(s)
            learned = await kb_learning.learned_questions(s)
        self.seen = latest
        if learned:
            await self._rebuild(learned, "start")

    async def poll_once(self) -> bool:
        """One check; True if the matcher was rebuilt."""
        if not self.enabled:
            return False
        async with self.db.transaction() as s:
            latest = await kb_learning.latest_reload(s)
            learned = await kb_learning.learned_questions(s) if latest != self.seen else None
        if learned is not None:
            self.seen = latest
            return await self._rebuild(learned, "kb reload requested")
        changed = getattr(self.kb, "reload_if_changed", None)
        if changed is not None and await asyncio.to_thread(changed):
            self.reloads += 1
            log.info("kb reloaded: article files changed")
            return True
        return False

    async def _rebuild(self, learned: dict[str, list[str]], why: str) -> bool:
        done = bool(await asyncio.to_thread(self.kb.reload, learned))
        if done:
            self.reloads += 1
            n = sum(len(q) for q in learned.values())
            log.info("kb reloaded (%s): %d articles, %d learned questions", why, len(self.kb.articles), n)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a failed poll (database away) is logged and retried."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception as exc:  # noqa: BLE001 — the desk keeps serving the current KB
                log.warning("kb reload check failed: %s", type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                pass
