"""The terminal frontend: play employee, agent and lead in one terminal.

Every configured person has a console identity. Messages are printed per
recipient (``[anna] …``) with numbered buttons. Typing a number presses that
button of the latest message with buttons the current identity received;
``/as NAME`` switches identity; anything else is sent as a message. Input can
be piped: the lines are run in order and the program exits at end of input.
Delivery goes through the outbox like every other platform.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from typing import TextIO

from bot.app import App
from handlers.events import Button, Destination, Incoming, Reply

PLATFORM = "console"
INDENT = "    "


class ConsoleSender:
    """Prints replies; remembers each person's latest buttons so numbers can press them."""

    platform = PLATFORM

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buttons: dict[str, list[Button]] = {}
        self._ids = itertools.count(1)

    def _print(self, dest: Destination, reply: Reply, edited: bool) -> None:
        mark = "(updated) " if edited else ""
        lines = reply.plain.splitlines() or [""]
        self.out.write(f"[{dest.chat_id}] {mark}{lines[0]}\n")
        for line in lines[1:]:
            self.out.write(f"{INDENT}{line}\n")
        flat = [b for row in reply.buttons for b in row]
        if flat:
            self.out.write(INDENT + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(flat, 1)) + "\n")
            self.buttons[dest.chat_id] = flat
        self.out.flush()

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self._print(dest, reply, edited=False)
        return str(next(self._ids))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> None:
        self._print(dest, reply, edited=True)


class Console:
    """Reads lines, turns them into neutral events, and lets the outbox print the answers."""

    def __init__(self, app: App, sender: ConsoleSender, *, start_as: str) -> None:
        self.app = app
        self.sender = sender
        self.current = start_as
        self._session = uuid.uuid4().hex[:8]
        self._seq = itertools.count(1)

    def _event_key(self) -> str:
        return f"console:{self._session}:{next(self._seq)}"

    async def line(self, raw: str) -> bool:
        """Handle one input line; returns False when the user asked to quit."""
        text = raw.strip()
        out = self.sender.out
        if not text or text.startswith("#"):
            return True
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/as"):
            name = text[3:].strip()
            if name not in self.app.config.people:
                known = ", ".join(self.app.config.people)
                out.write(f"! unknown person {name!r}; known: {known}\n")
            else:
                self.current = name
                out.write(f"-- now acting as {name} ({self.app.config.people[name].name})\n")
            return True
        if text == "/whoami":
            out.write(f"-- {self.current}\n")
            return True
        inc: Incoming
        if text.isdigit():
            buttons = self.sender.buttons.get(self.current, [])
            index = int(text)
            if not 1 <= index <= len(buttons):
                out.write(f"! no button {index} for {self.current}\n")
                return True
            b = buttons[index - 1]
            out.write(f"-- {self.current} pressed “{b.label}”\n")
            inc = Incoming(
                platform=PLATFORM, chat_id=self.current, user_id=self.current, event_key=self._event_key(),
                action=b.action, ticket_id=b.ticket_id, value=b.value,
            )
        else:
            inc = Incoming(
                platform=PLATFORM, chat_id=self.current, user_id=self.current, event_key=self._event_key(),
                text=text,
            )
        await self.app.engine.handle(inc)
        while await self.app.worker.deliver_pending():
            pass
        return True


async def run_console(app: App, stdin: TextIO, out: TextIO, *, start_as: str | None = None) -> int:
    """Run the console over ``stdin`` until end of input or ``/quit``. Returns the exit status."""
    sender = app.senders[PLATFORM]
    assert isinstance(sender, ConsoleSender)
    await app.start()
    await app.add_identities(PLATFORM)
    first = start_as or next(iter(app.config.people))
    console = Console(app, sender, start_as=first)
    interactive = stdin.isatty()
    if interactive:
        out.write(
            f"deskbot console — acting as {first}. Type a message, a number to press a button,\n"
            f"/as NAME to switch person ({', '.join(app.config.people)}), /help, /quit.\n"
        )
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            out.write(f"{console.current}> ")
            out.flush()
        raw = await loop.run_in_executor(None, stdin.readline)
        if raw == "":
            break
        if not interactive:
            out.write(f"{console.current}> {raw.rstrip()}\n")
        if not await console.line(raw):
            break
    out.flush()
    return 0


def default_streams() -> tuple[TextIO, TextIO]:
    return sys.stdin, sys.stdout
