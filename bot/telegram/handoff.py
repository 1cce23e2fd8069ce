"""The one place a translated update becomes engine work."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from handlers.events import Incoming, Outcome

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("deskbot.telegram")


class Handoff:
    """Hands an :class:`Incoming` to the engine and wakes the outbox worker.

    ``engine.handle`` returns after its transaction committed (or raises): the receivers
    (polling, webhook) confirm an update to Telegram only after this returned.
    """

    def __init__(self) -> None:
        self.app: App | None = None
        self.bot_id: int | None = None  # from getMe; names the events (telegram:<bot id>:<update_id>)
        self.bot_username: str | None = None  # from getMe; "/cmd@<username>" is for us
        self.handled = 0

    async def handle(self, inc: Incoming) -> Outcome:
        if self.app is None:
            raise RuntimeError("the Telegram frontend is not bound to a desk (call bind(app) first)")
        outcome = await self.app.engine.handle(inc)
        self.handled += 1
        if outcome.outgoing:
            self.app.worker.wake()
        return outcome
