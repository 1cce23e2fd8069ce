"""What ``deskbot run`` needs from a platform frontend (Telegram now, Slack next).

A frontend owns its platform connection: it turns platform events into
:class:`~handlers.events.Incoming` for the engine and provides the
:class:`~bot.delivery.Sender` the outbox worker delivers through. The run
process builds each frontend, gives its sender to :func:`bot.app.build`, binds
the built app, mounts the frontend's HTTP routes on the one server, then starts
it; on SIGTERM it stops every frontend before the worker.

A frontend whose receiving must happen in one process only (Telegram long polling: a
second ``getUpdates`` loop on the same bot ends the first with 409 Conflict) sets
``runner_only = True``: ``deskbot run`` then starts it only in the runner process
(:mod:`scheduler.runner`), stops it when the process stops being the runner and starts
it again when it becomes the runner again; elsewhere /healthz reports it on standby.

A frontend that registers itself with its platform on start (Telegram: ``setWebhook`` and
the command menus) has ``registers = True`` (the others False): ``deskbot run --role web``
sets it to False, so only the processes that may be the runner register, and several web processes
sharing one port (``server.reuse_port``) neither repeat nor undo it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App
    from bot.delivery import Sender


class Frontend(Protocol):
    platform: str
    sender: Sender
    # True: register with the platform on start; ``deskbot run --role web`` sets it False.
    registers: bool

    @property
    def runner_only(self) -> bool:
        """True: receive in the runner process only (see the module docstring)."""
        ...

    def bind(self, app: App) -> None:
        """Attach the built desk (engine, database, worker) before :meth:`start`."""
        ...

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes to mount on the run server (webhooks); may be empty."""
        ...

    async def start(self) -> None:
        """Connect (e.g. getMe, command menus) and begin receiving (polling task or webhook)."""
        ...

    async def stop(self) -> None:
        """Stop receiving and wait for the events already in hand to be handled."""
        ...

    def health(self) -> dict[str, Any]:
        """For /healthz: at least ``{"connected": bool}``."""
        ...
