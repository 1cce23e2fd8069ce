"""A test driver that reads like a conversation.

    desk = await Desk.open(app)
    await desk.say("anna", "не работает VPN")
    assert "VPN" in desk.last("anna").text
    await desk.press("anna", "Open a ticket")      # by label, or by 1-based index
    await desk.press("boris", "Claim")

Messages are delivered through the real outbox worker to a :class:`RecordingSender`
on the ``console`` platform (every configured person has a console identity).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from handlers.events import Attachment, Button, Destination, Incoming, Outcome, Reply
from store import outbox

PLATFORM = "console"


@dataclass
class Received:
    chat: str
    text: str
    buttons: list[Button]
    edited: bool
    ticket_id: int | None
    files: tuple[Attachment, ...] = ()  # what came with the text (inline files carry their bytes)
    rich: tuple[Any, ...] | None = None  # the formatted form (handlers.richtext), if any

    def labels(self) -> list[str]:
        return [b.label for b in self.buttons]


@dataclass
class RecordingSender:
    """Stands in for a platform: records what each chat received."""

    platform: str = PLATFORM
    messages: list[Received] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self.messages.append(Received(dest.chat_id, reply.plain, [b for r in reply.buttons for b in r], False, reply.ticket_id,
                                      reply.attachments, reply.rich))
        return str(next(self._ids))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        self.messages.append(Received(dest.chat_id, reply.plain, [b for r in reply.buttons for b in r], True, reply.ticket_id))
        return None


class Desk:
    def __init__(self, app: App, sender: RecordingSender) -> None:
        self.app = app
        self.sender = sender
        self._seq = itertools.count(1)
        self._seen: dict[str, int] = {}

    @classmethod
    async def open(cls, app: App) -> Desk:
        sender = app.senders[PLATFORM]
        assert isinstance(sender, RecordingSender)
        await app.add_identities(PLATFORM)
        return cls(app, sender)

    def key(self) -> str:
        return f"test:{next(self._seq)}"

    async def send(self, inc: Incoming) -> Outcome:
        outcome = await self.app.engine.handle(inc)
        while await self.app.worker.deliver_pending():
            pass
        return outcome

    async def say(self, who: str, text: str, *, key: str | None = None, ticket_id: int | None = None) -> Outcome:
        return await self.send(
            Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=key or self.key(), text=text,
                     ticket_id=ticket_id)
        )

    async def click(self, who: str, action: str, ticket_id: int | None = None, value: str | None = None,
                    *, key: str | None = None) -> Outcome:
        """Press a button by its action (as a forged or replayed press would arrive)."""
        return await self.send(
            Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=key or self.key(),
                     action=action, ticket_id=ticket_id, value=value)
        )

    async def press(self, who: str, label: str | int) -> Outcome:
        """Press a button on the latest message with buttons that ``who`` received."""
        msg = self.last_with_buttons(who)
        if isinstance(label, int):
            button = msg.buttons[label - 1]
        else:
            matches = [b for b in msg.buttons if b.label == label or label in b.label]
            assert matches, f"{who} has no button {label!r}; has {msg.labels()}"
            button = matches[0]
        return await self.click(who, button.action, button.ticket_id, button.value)

    def received(self, who: str) -> list[Received]:
        return [m for m in self.sender.messages if m.chat == who]

    def new(self, who: str) -> list[Received]:
        """Messages ``who`` received since the last call of ``new(who)``."""
        msgs = self.received(who)
        start = self._seen.get(who, 0)
        self._seen[who] = len(msgs)
        return msgs[start:]

    def last(self, who: str) -> Received:
        msgs = self.received(who)
        assert msgs, f"{who} received nothing"
        return msgs[-1]

    def last_with_buttons(self, who: str) -> Received:
        for m in reversed(self.received(who)):
            if m.buttons:
                return m
        raise AssertionError(f"{who} has no message with buttons")


async def recorded(app: App, platform: str, chat_id: str, message_id: str, timeout: float = 20.0) -> None:
    """Wait until the desk knows which ticket a message it sent belongs to.

    A platform shows the bot's message a moment before the outbox marks it sent; a reply to
    it maps to its ticket only after that (a person is never that quick, a test is)."""
    async def known() -> bool:
        async with app.db.transaction() as s:
            return await outbox.ticket_for_message(s, platform, chat_id, message_id) is not None

    await app.worker.wait_recorded(known, timeout)
