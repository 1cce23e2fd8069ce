"""The Telegram frontend: one aiogram ``Bot``, the dispatcher, and a receiver per mode.

``deskbot run`` builds it from the config, passes :attr:`TelegramFrontend.sender` to
:func:`bot.app.build`, binds the built app, mounts :meth:`routes` on its HTTP server
and calls :meth:`start`; on shutdown :meth:`stop` (stop receiving, finish what is in
hand), then — after the outbox worker stopped — :meth:`close` (the HTTP session the
sender also uses).

``start``: ``getMe`` (the bot id names every event: ``telegram:<bot id>:<update_id>``),
the command menus (``setMyCommands`` per language and per scope: private chats get the
requester's commands, groups the agents'), then either ``deleteWebhook`` + polling
(:mod:`bot.telegram.polling`) or ``setWebhook(url, secret_token, allowed_updates)``
(:mod:`bot.telegram.webhook`).

With ``registers = False`` (set by ``deskbot run --role web``) ``start`` calls neither
``setMyCommands`` nor ``setWebhook``: a web process only serves the webhook that a process
which may be the runner (role ``all`` or ``runner``) registered. So N web processes
sharing one port (``server.reuse_port``) do not call them N times at once (Telegram may
answer a burst with 429 Too Many Requests, and a failed ``setWebhook`` fails the start),
and their start and stop change nothing at Telegram.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from sqlalchemy import text

from bot.config import LOCALES, Config
from bot.telegram.handoff import Handoff
from bot.telegram.polling import DEFAULT_TIMEOUT, Poller
from bot.telegram.routers import ALLOWED_UPDATES, build_dispatcher
from bot.telegram.webhook import WebhookReceiver
from handlers.texts import t

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App
    from bot.delivery import Sender

log = logging.getLogger("deskbot.telegram")

PRIVATE_COMMANDS = ("new", "my", "cancel", "lang", "link", "help")
GROUP_COMMANDS = ("queue", "mine", "ticket", "take", "note", "resolve", "answered", "assign", "escalate",
                  "priority", "release", "find", "canned", "away", "back", "stats", "help")


# --- config accessors (telegram.webhook_url or telegram.webhook.url: either spelling) ---------

def _secret_value(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter is not None else value)


def webhook_url(tg: Any) -> str | None:
    nested = getattr(tg, "webhook", None)
    return getattr(nested, "url", None) or getattr(tg, "webhook_url", None) or None


def webhook_secret(tg: Any) -> str:
    nested = getattr(tg, "webhook", None)
    return _secret_value(getattr(nested, "secret", None)) or _secret_value(getattr(tg, "webhook_secret", None))


def polling_timeout(tg: Any) -> int:
    polling = getattr(tg, "polling", None)
    value = getattr(polling, "timeout", None) or getattr(tg, "polling_timeout", None)
    return int(value) if value else DEFAULT_TIMEOUT


# Response[T] for each result type T seen, held for the life of the process. aiogram parses
# every Bot API answer with ``Response[method.__returning__]``; pydantic (2.11+) caches a
# parametrized model only weakly, and the class sits in reference cycles, so the garbage
# collector drops it between calls and the next call builds it again: tens of ms of schema
# building per call, the largest cost of a send under load (bench/load.py profile).
PINNED_RESPONSES: dict[Any, Any] = {}


async def pin_response_type(make_request: Any, bot: Bot, method: Any) -> Any:
    """aiogram request middleware: keep ``Response[<its result type>]`` alive (see above)."""
    returning = method.__returning__
    if returning not in PINNED_RESPONSES:
        PINNED_RESPONSES[returning] = Response[returning]  # type: ignore[valid-type]
    return await make_request(bot, method)


def command_menu(names: tuple[str, ...], locale: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=t(f"tgcmd_{name}", locale)) for name in names]


class TelegramFrontend:
    platform = "telegram"

    def __init__(self, config: Config, *, sender: Sender | None = None, desk: Handoff | None = None,
                 polling_timeout_s: int | None = None) -> None:
        tg = config.telegram
        self.config = config
        self.mode: str = tg.mode
        self.bot = Bot(_secret_value(tg.token),
                       session=AiohttpSession(api=TelegramAPIServer.from_base(tg.api_base.rstrip("/"))))
        self.bot.session.middleware(pin_response_type)
        if sender is None:
            from bot.telegram.sender import TelegramSender  # helper F's module (h-tgout)

            sender = TelegramSender(self.bot)
        self.sender: Sender = sender
        self.desk = desk if desk is not None else Handoff()
        self.dispatcher = build_dispatcher(self.desk)
        self.me: Any = None
        self.registers = True  # False: setWebhook and the command menus are another process's
        self.poller: Poller | None = None
        self.webhook: WebhookReceiver | None = None
        if self.mode == "webhook":
            self.webhook = WebhookReceiver(self.bot, self.dispatcher, webhook_secret(tg))
        else:
            self.poller = Poller(self.bot, self.dispatcher, allowed_updates=ALLOWED_UPDATES,
                                 timeout=polling_timeout_s or polling_timeout(tg), database_up=self._database_up)
        self._app: App | None = None

    @property
    def runner_only(self) -> bool:
        """Polling runs in the runner process only (two getUpdates loops end each other);
        webhooks are served by every process."""
        return self.poller is not None

    def bind(self, app: App) -> None:
        self._app = app
        self.desk.app = app
        bind = getattr(self.sender, "bind", None)
        if bind is not None:
            bind(app.db)

    def routes(self) -> list[web.RouteDef]:
        return [self.webhook.route()] if self.webhook is not None else []

    async def start(self) -> None:
        if self._app is None:
            raise RuntimeError("bind(app) before start()")
        self.me = await self.bot.me()  # getMe, kept by aiogram for later bot.me() calls
        self.desk.bot_id, self.desk.bot_username = self.me.id, self.me.username
        if self.registers:
            try:
                await self._set_commands()
            except Exception as exc:  # noqa: BLE001 - menus are a convenience; receiving matters
                log.warning("could not set the command menus (%s); continuing without", type(exc).__name__)
        if self.webhook is not None:
            url = webhook_url(self.config.telegram)
            if not url:
                raise RuntimeError("telegram.mode is webhook but no webhook url is configured")
            self.webhook.open()
            if self.registers:
                await self.bot.set_webhook(url, secret_token=webhook_secret(self.config.telegram),
                                           allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
                log.info("telegram webhook set for @%s", self.me.username)
            else:
                log.info("telegram webhook served for @%s (registered by the runner process)", self.me.username)
        else:
            assert self.poller is not None
            await self.bot.delete_webhook(drop_pending_updates=False)
            self.poller.start()
            log.info("telegram polling started for @%s", self.me.username)

    async def _set_commands(self) -> None:
        default = self.config.desk.default_locale
        for scope_type, names in ((BotCommandScopeAllPrivateChats, PRIVATE_COMMANDS),
                                  (BotCommandScopeAllGroupChats, GROUP_COMMANDS)):
            for lang in LOCALES:
                await self.bot.set_my_commands(command_menu(names, lang), scope=scope_type(), language_code=lang)
            # Users whose Telegram language is neither: the desk's default language.
            await self.bot.set_my_commands(command_menu(names, default), scope=scope_type())

    async def stop(self) -> None:
        """Stop receiving; the updates in hand finish (and are committed) first."""
        if self.poller is not None:
            await self.poller.stop()
        if self.webhook is not None:
            await self.webhook.stop()

    async def close(self) -> None:
        """Close the HTTP session (after the outbox worker, which sends through it, stopped)."""
        await self.bot.session.close()

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode, "bot": getattr(self.me, "username", None),
                                "handled": self.desk.handled}
        if self.poller is not None:
            info["connected"] = self.me is not None and self.poller.running and self.poller.connected
            info["skipped"] = self.poller.skipped
        else:
            info["connected"] = self.me is not None and self.webhook is not None and self.webhook.accepting
            info["skipped"] = self.webhook.skipped if self.webhook is not None else 0
        return info

    async def _database_up(self) -> bool:
        assert self._app is not None
        async with self._app.db.transaction() as s:
            await s.execute(text("SELECT 1"))
        return True
