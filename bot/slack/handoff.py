"""The one place a translated Slack request becomes engine work, and who the person is.

``engine.handle`` returns after its transaction committed (or raises): bolt runs every
listener before it answers (``process_before_response=True``), so Slack gets its 200
only after this returned.

Who the person is comes from ``users.info`` (asked once per user per process): the
listeners take the language and name for the translation, and :meth:`Handoff.handle`
adds the profile's time zone to the event of that person (``Incoming.timezone``), so the
times shown to them are in their own zone.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from bot.slack import translate
from handlers.events import Incoming, Outcome

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.app import App

log = logging.getLogger("deskbot.slack")


class Profile(NamedTuple):
    """What ``users.info`` says about a person, in the desk's terms."""

    locale: str | None
    name: str | None
    timezone: str | None


class Handoff:
    """Hands an :class:`Incoming` to the engine and wakes the outbox worker; caches profiles."""

    def __init__(self) -> None:
        self.app: App | None = None
        self.handled = 0
        # user id → their profile from users.info, asked once per user per process.
        self._profiles: dict[str, Profile] = {}

    async def handle(self, inc: Incoming) -> Outcome:
        if self.app is None:
            raise RuntimeError("the Slack frontend is not bound to a desk (call bind(app) first)")
        known = self._profiles.get(inc.user_id)
        if inc.timezone is None and known is not None and known.timezone:
            inc = dataclasses.replace(inc, timezone=known.timezone)
        outcome = await self.app.engine.handle(inc)
        self.handled += 1
        if outcome.outgoing:
            self.app.worker.wake()
        return outcome

    async def profile(self, client: AsyncWebClient, user_id: str) -> tuple[str | None, str | None]:
        """(locale, name) of a Slack user from ``users.info`` (``include_locale``), cached with
        their time zone (see :meth:`handle`).

        A failed lookup is not cached and not fatal: the desk uses its default language.
        """
        if not user_id:
            return None, None
        if user_id in self._profiles:
            known = self._profiles[user_id]
            return known.locale, known.name
        try:
            resp = await client.users_info(user=user_id, include_locale=True)
        except Exception as exc:  # noqa: BLE001 - a profile is a convenience, the message matters
            log.warning("users.info failed for a user: %s", type(exc).__name__)
            return None, None
        user: dict[str, Any] = resp.get("user") or {}
        found = Profile(translate.locale_of(user.get("locale")), translate.name_of(user), translate.timezone_of(user))
        self._profiles[user_id] = found
        return found.locale, found.name
