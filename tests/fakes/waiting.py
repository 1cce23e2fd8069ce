"""Waiting on a fake platform's recorded calls, shared by the Telegram and Slack fakes.

A fake keeps ``calls`` (objects with ``method`` and ``ok``) and calls :meth:`notify`
after anything a test may wait for happened; tests wait on conditions, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class CallLog:
    """``calls`` + a condition: ``wait_for``, ``wait_call``, ``calls_of``, ``mark``."""

    calls: list[Any]
    _cond: asyncio.Condition
    method_case_sensitive = True  # Bot API method names are case-insensitive (Telegram: False)

    def _init_waiting(self) -> None:
        self._cond = asyncio.Condition()

    async def notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def describe(self, call: Any) -> str:
        """One call as shown in a timeout message (``!`` marks a failed call)."""
        return f"{call.method}{'' if call.ok else '!'}"

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every notify); return its
        value. Raises ``TimeoutError`` naming the last calls."""
        async def waiter() -> Any:
            async with self._cond:
                while True:
                    value = predicate()
                    if value:
                        return value
                    await self._cond.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            recent = ", ".join(self.describe(c) for c in self.calls[-15:])
            raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}") from None

    async def wait_call(self, method: str, predicate: Callable[[Any], bool] | None = None,
                        *, count: int = 1, timeout: float = 5.0, since: int = 0) -> list[Any]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) were made."""
        def check() -> list[Any] | None:
            found = [c for c in self.calls_of(method, since) if predicate is None or predicate(c)]
            return found if len(found) >= count else None

        result: list[Any] = await self.wait_for(check, timeout)
        return result

    def calls_of(self, method: str, since: int = 0) -> list[Any]:
        """Calls of one method, from index ``since`` of ``calls``."""
        if self.method_case_sensitive:
            return [c for c in self.calls[since:] if c.method == method]
        m = method.lower()
        return [c for c in self.calls[since:] if c.method.lower() == m]

    def mark(self) -> int:
        """A position in ``calls``: pass it as ``since`` to look only at later calls."""
        return len(self.calls)
