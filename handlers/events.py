"""The neutral vocabulary between frontends and the engine.

A frontend turns a platform event into an :class:`Incoming`, hands it to the
engine, and the engine answers with :class:`Outgoing` messages (already written
to the outbox). Nothing here knows about Telegram, Slack or the terminal.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 16000  # user text longer than this is cut (stored up to the cut; the sender is told)


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message, kept as a reference (never downloaded by the engine).

    ``kind`` is what the platform calls it (``photo``, ``document``, ``voice``, ``video``,
    ``audio``, ``animation``, ``video_note``, ``file``); ``platform`` is where ``file_id``
    is valid (a Telegram file id means nothing to Slack).
    """

    name: str
    mime_type: str
    size: int
    file_id: str
    kind: str = "document"
    platform: str = ""
    # A file made here (the digest's chart), carried whole: base64 in the outbox payload,
    # uploaded by every sender. ``file_id`` is then empty and ``platform`` "".
    data: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "mime_type": self.mime_type, "size": self.size,
                             "file_id": self.file_id, "kind": self.kind, "platform": self.platform}
        if self.data is not None:
            d["data_b64"] = base64.b64encode(self.data).decode("ascii")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attachment:
        data = base64.b64decode(d["data_b64"]) if d.get("data_b64") else None
        return cls(name=d.get("name", ""), mime_type=d.get("mime_type", ""), size=int(d.get("size") or 0),
                   file_id=d.get("file_id") or "", kind=d.get("kind", "document"), platform=d.get("platform", ""),
                   data=data)


def inline_files(attachments: tuple[Attachment, ...]) -> list[Attachment]:
    """The attachments carried whole (``data``), which every sender uploads itself."""
    return [a for a in attachments if a.data]


@dataclass(frozen=True)
class Origin:
    """The message a gesture filed as a ticket for its author (Slack's ticket reaction, the
    message shortcut): its chat and platform message id, the thread it is in (``None``: it
    starts one), and the language of whoever made the gesture. ``announce``: the engine
    tells the number in the message's thread (through the outbox, like every message);
    otherwise it is ``Outcome.alert``, for the frontend to show that person only."""

    chat_id: str
    message_id: str
    thread_id: str | None = None
    locale: str | None = None
    announce: bool = True


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: a text message or a button press.

    ``event_key`` is stable across redeliveries (Telegram ``update_id``, Slack
    ``event_id`` / action id) and makes handling idempotent. A text's thread is
    given as the platform sees it — ``thread_id`` (a topic, a Slack thread) or
    ``reply_to`` (the message it replies to) — and the engine resolves it to a
    ticket through the store; ``ticket_id`` on a text names the ticket directly
    (the console's reply mode, ``/reply N``).
    """

    platform: str
    chat_id: str
    user_id: str
    event_key: str
    text: str = ""
    display_name: str | None = None
    locale: str | None = None
    # The person's IANA time zone from their platform profile (Slack's ``tz``), when known.
    timezone: str | None = None
    thread_id: str | None = None
    reply_to: str | None = None  # the platform message id this message replies to
    action: str | None = None
    ticket_id: int | None = None
    value: str | None = None
    is_private: bool = True
    attachments: tuple[Attachment, ...] = ()
    # A message the platform reports as changed: the platform id of the original message
    # (``text`` is its new text). The engine records it on the ticket as an edit.
    edit_of: str | None = None
    # A forwarded message: who it was forwarded from (the engine says so, in the reader's language).
    forwarded_from: str | None = None
    # Something that is neither text nor a button: ``unsupported`` (a sticker, location,
    # contact, poll…), ``blocked`` / ``unblocked`` (the person blocked / unblocked the bot).
    signal: str | None = None
    # A button press whose frontend can answer it in place (Telegram's answerCallbackQuery
    # alert, Slack's ephemeral message): refusals go to ``Outcome.alert``, not to the chat.
    alert: bool = False
    # The platform's id of this message in its chat (Telegram message_id, Slack ts): recorded
    # on the ticket message so a later edit (``edit_of``) finds it.
    message_id: str | None = None
    # A ``file_message`` gesture: the message it was made on (see :class:`Origin`).
    origin: Origin | None = None

    @property
    def is_button(self) -> bool:
        return self.action is not None

    @property
    def is_command(self) -> bool:
        # A forwarded message is someone else's words: text, never a command.
        return not self.is_button and self.forwarded_from is None and self.text.startswith("/")


@dataclass(frozen=True)
class Button:
    """A button is only a reference: every press is re-authorised by the engine."""

    label: str
    action: str
    ticket_id: int | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "action": self.action, "ticket_id": self.ticket_id, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Button:
        return cls(label=d["label"], action=d["action"], ticket_id=d.get("ticket_id"), value=d.get("value"))


@dataclass(frozen=True)
class Reply:
    """Text (plain; renderers escape it) with optional rows of buttons.

    ``card`` names an edit-in-place slot (``"queue"``): a later reply with the
    same card and ticket edits the earlier message instead of sending a new one.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ticket_id: int | None = None
    card: str | None = None
    # Optional formatted version of ``text`` (handlers.richtext); ``text`` stays its plain form.
    rich: tuple[Any, ...] | None = None
    # Files sent with the text (by reference; a sender passes on those valid on its platform).
    attachments: tuple[Attachment, ...] = ()
    # A whole screen instead of a message, as plain data (``card="home"``: an App Home,
    # handlers.home.HomeView.to_dict()); ``text`` is then its one-line summary.
    view: dict[str, Any] | None = None
    # The reader's language (set when the reply is queued): for a note a sender adds itself,
    # e.g. a file of another platform it could not copy.
    locale: str | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": self.text, "buttons": [[b.to_dict() for b in row] for row in self.buttons]}
        if self.attachments:
            payload["attachments"] = [a.to_dict() for a in self.attachments]
        if self.view is not None:
            payload["view"] = self.view
        if self.locale:
            payload["locale"] = self.locale
        if self.rich is not None:
            from handlers.richtext import to_data

            payload["rich"] = to_data(self.rich)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, ticket_id: int | None = None, card: str | None = None) -> Reply:
        rows = tuple(tuple(Button.from_dict(b) for b in row) for row in payload.get("buttons", []))
        rich = None
        if isinstance(payload.get("rich"), list):
            from handlers.richtext import from_data

            rich = from_data(payload["rich"])
        files = tuple(Attachment.from_dict(a) for a in payload.get("attachments") or ())
        view = payload.get("view") if isinstance(payload.get("view"), dict) else None
        locale = payload.get("locale")
        return cls(text=payload["text"], buttons=rows, ticket_id=ticket_id, card=card, rich=rich, attachments=files,
                   view=view, locale=locale if isinstance(locale, str) else None)

    @property
    def plain(self) -> str:
        """The text to show where there is no markup (the rich form rendered plain, else ``text``)."""
        if self.rich is None:
            return self.text
        from handlers.richtext import to_plain

        return to_plain(self.rich)


@dataclass(frozen=True)
class Destination:
    """A concrete place to deliver to: platform + chat (+ thread).

    ``thread_id`` is the platform's thread (a Telegram topic's ``message_thread_id``, a
    Slack ``thread_ts``); ``reply_to`` is a message to answer as a reply (Telegram chats
    without topics, where a reply is the thread).
    """

    platform: str
    chat_id: str
    person_id: int | None = None
    thread_id: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class Outgoing:
    destination: Destination
    reply: Reply


@dataclass
class Outcome:
    """What handling one incoming event produced (for tests and frontends)."""

    duplicate: bool = False
    outgoing: list[Outgoing] = field(default_factory=list)
    # Shown in place to the person: for ``Incoming.alert`` presses a refusal (nothing else
    # changed); for an unannounced gesture (``Origin.announce`` false) what became of the message.
    alert: str | None = None
