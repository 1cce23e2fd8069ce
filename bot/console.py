"""The terminal frontend: play employee, agent and lead in one terminal.

Every configured person has a console identity. Messages are printed per
recipient (``[anna] …``) with numbered buttons. Typing a number presses that
button of the latest message with buttons the current identity received;
``/as NAME`` switches identity; ``/whoami``, ``/quit`` (``/exit``) and ``/# …``
(a script comment) are the console's own commands; anything else, ``/assign …`` and
``# …`` included, goes to the engine. Input can be piped: the lines are run in order
and the program exits at end of input.
Delivery goes through the outbox like every other platform. Before each line the console
checks for ``deskbot kb reload`` and edited KB files (:mod:`bot.kb_reload`), so a reload
requested from another terminal applies to the next message.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from typing import TextIO

from bot.app import App
from handlers.context import pick_locale
from handlers.events import Button, Destination, Incoming, Reply, inline_files
from handlers.texts import t
from store import conversations, people

PLATFORM = "console"
INDENT = "    "
COMMENT = "/#"


class ConsoleSender:
    """Prints replies; remembers each person's latest buttons so numbers can press them."""

    platform = PLATFORM

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buttons: dict[str, list[Button]] = {}
        self._ids = itertools.count(1)
        # The console's own words follow the acting person's language (set by Console).
        self.locale = "en"

    def _print(self, dest: Destination, reply: Reply, edited: bool) -> None:
        mark = t("console_updated", self.locale) + " " if edited else ""
        lines = reply.plain.splitlines() or [""]
        self.out.write(f"[{dest.chat_id}] {mark}{lines[0]}\n")
        for line in lines[1:]:
            self.out.write(f"{INDENT}{line}\n")
        for file in inline_files(reply.attachments):  # a terminal shows no pictures: say one came
            self.out.write(f"{INDENT}📎 {file.name} ({file.mime_type}, {file.size:,} bytes)\n")
        flat = [b for row in reply.buttons for b in row]
        if flat:
            self.out.write(INDENT + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(flat, 1)) + "\n")
            self.buttons[dest.chat_id] = flat
        self.out.flush()

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self._print(dest, reply, edited=False)
        return str(next(self._ids))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        self._print(dest, reply, edited=True)
        return None  # printed lines are never gone: always "edited in place"


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

    async def locale(self) -> str:
        """The acting person's language (their /lang choice, config, desk default)."""
        async with self.app.db.transaction() as s:
            person = await people.person_by_key(s, self.current)
        if person is None:
            conf = self.app.config.people.get(self.current)
            return (conf.locale if conf is not None and conf.locale else None) or self.app.config.desk.default_locale
        return pick_locale(person, self.app.config, None)

    async def _composing(self) -> bool:
        """Whether the acting person's conversation is in reply mode (the next text is a reply)."""
        async with self.app.db.transaction() as s:
            conv = await conversations.load(s, PLATFORM, self.current, self.current)
            return conv.state == "compose"

    async def line(self, raw: str) -> bool:
        """Handle one input line; returns False when the user asked to quit."""
        text = raw.strip()
        out = self.sender.out
        loc = await self.locale()
        self.sender.locale = loc
        if not text or text.startswith(COMMENT):
            return True
        if self.app.kb_reloader is not None:
            # One process: `deskbot kb reload` (from another terminal) and edited KB files
            # take effect on the next line.
            await self.app.kb_reloader.poll_once()
        word, _, rest = text.partition(" ")
        cmd = word.lower()
        if cmd in ("/quit", "/exit"):
            return False
        if cmd == "/as":
            name = rest.strip().lower()
            if name not in self.app.config.people:
                known = ", ".join(self.app.config.people)
                out.write("! " + t("console_unknown_person", loc, name=repr(rest.strip()), known=known) + "\n")
            else:
                self.current = name
                loc = await self.locale()
                self.sender.locale = loc
                out.write("-- " + t("console_now_acting", loc, who=name, name=self.app.config.people[name].name) + "\n")
            return True
        if cmd == "/whoami":
            out.write(f"-- {self.current}\n")
            return True
        inc: Incoming
        buttons = self.sender.buttons.get(self.current, [])
        is_press = text.isascii() and text.isdigit() and (1 <= int(text) <= len(buttons) or not await self._composing())
        if is_press:
            index = int(text)
            if not 1 <= index <= len(buttons):
                out.write("! " + t("console_no_button", loc, n=index, who=self.current) + "\n")
                return True
            b = buttons[index - 1]
            out.write("-- " + t("console_pressed", loc, who=self.current, label=b.label) + "\n")
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
        if cmd == "/help":
            out.write(t("console_help", loc) + "\n")
        return True


def _read_lines(stdin: TextIO, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """Read ``stdin`` line by line in a daemon thread (``""`` at end of input).

    A daemon thread, not the loop's executor: a pending ``readline`` must not keep the
    process alive after Ctrl-C / SIGINT (the executor joins its threads at exit).
    """
    queue: asyncio.Queue[str] = asyncio.Queue()

    def put(line: str) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the loop is gone: we are exiting
            pass

    def run() -> None:
        while True:
            try:
                line = stdin.readline()
            except (OSError, ValueError):
                line = ""
            put(line)
            if line == "":
                return

    threading.Thread(target=run, name="console-stdin", daemon=True).start()
    return queue


async def _interactive_lines(console: Console) -> AsyncIterator[str]:
    """Prompted lines with line editing and history (prompt_toolkit); ends on Ctrl-D or Ctrl-C."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    session: PromptSession[str] = PromptSession(history=InMemoryHistory())
    while True:
        try:
            yield await session.prompt_async(f"{console.current}> ")
        except (EOFError, KeyboardInterrupt):
            return


async def run_console(app: App, stdin: TextIO, out: TextIO, *, start_as: str | None = None) -> int:
    """Run the console over ``stdin`` until end of input, ``/quit``, Ctrl-D or Ctrl-C.

    Returns the exit status. A terminal gets line editing and history; piped input is
    echoed after the prompt so a transcript reads like a session.
    """
    sender = app.senders[PLATFORM]
    assert isinstance(sender, ConsoleSender)
    await app.start()
    await app.add_identities(PLATFORM)
    first = start_as or next(iter(app.config.people))
    console = Console(app, sender, start_as=first)
    if stdin.isatty() and out.isatty():
        loc = await console.locale()
        out.write(t("console_banner", loc, who=first, known=", ".join(app.config.people)) + "\n")
        out.flush()
        async for raw in _interactive_lines(console):
            if not await console.line(raw):
                break
            out.flush()
        out.flush()
        return 0
    queue = _read_lines(stdin, asyncio.get_running_loop())
    while True:
        raw = await queue.get()
        if raw == "":
            break
        out.write(f"{console.current}> {raw.rstrip()}\n")
        if not await console.line(raw):
            break
        out.flush()
    out.flush()
    return 0


def default_streams() -> tuple[TextIO, TextIO]:
    return sys.stdin, sys.stdout
