"""Slack payloads → the neutral :class:`~handlers.events.Incoming`, as pure functions.

The listeners (:mod:`bot.slack.listeners`) decide *which* requests reach the desk; this
module says *what* each one means. Ids are strings (COMMON contracts): ``chat_id`` = the
channel (``D…`` for a DM), ``user_id`` = ``U…``, message ids = the message ``ts``,
``thread_id`` = ``thread_ts`` (the root's ts) for a message inside a thread.

| Slack                                          | Incoming                                        |
|------------------------------------------------|-------------------------------------------------|
| ``message`` in a DM (``channel_type: im``)     | ``text``, ``attachments``, ``is_private=True``  |
| ``message`` in a channel thread (``thread_ts``)| ``thread_id=thread_ts``, ``is_private=False``   |
| ``message_changed``                            | ``edit_of`` = the original ``ts``               |
| bot messages, other subtypes, channel chatter  | ignored (``None``)                              |
| ``block_actions`` ``b1|claim|12|``             | ``action``, ``ticket_id``, ``value``, ``alert`` |
| a garbage / old-version value                  | ``action="stale"``                              |
| ``/helpdesk queue`` · ``take 12`` · ``text``   | ``/queue`` · ``/take 12`` · ``/new text``       |
| shortcut / reaction on a message               | ``action="file_message"``, ``value`` = its text, ``origin`` |
| the ``/helpdesk`` modal submitted               | ``action="file_request"``, ``text``, ``value`` = a FormRequest |
| ``app_home_opened`` on the Home tab            | ``signal="home"`` (the engine publishes the Home) |

Event keys: ``slack:<team>:<event_id>`` (Events API; a retry has the same ``event_id``),
``slack:<team>:action:<action_ts or trigger_id>``, ``slack:<team>:cmd:<trigger_id>``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bot.config import LOCALES
from bot.slack import actions
from handlers.events import Attachment, Incoming, Origin
from handlers.forms import FormRequest
from handlers.home import HOME_SIGNAL
from handlers.sanitize import known_timezone

PLATFORM = "slack"

# Message subtypes a person produces that the desk takes in (None: a plain message).
TAKEN_SUBTYPES: frozenset[str | None] = frozenset({None, "file_share", "thread_broadcast"})
EDITED = "message_changed"
# The action a shortcut or a reaction on someone's message becomes: file it for its author.
FILE_MESSAGE = "file_message"
# The /helpdesk modal submitted: ``text`` = the description, ``value`` = what was chosen and
# answered (handlers.forms.FormRequest as JSON).
FILE_REQUEST = "file_request"
GESTURES = frozenset({FILE_MESSAGE, FILE_REQUEST})  # never a button: a press claiming one is stale

# ``/helpdesk <sub> [args]`` → the engine's chat command; anything else files a request.
SUBCOMMANDS: frozenset[str] = frozenset({
    "queue", "mine", "my", "ticket", "take", "note", "resolve", "assign", "escalate", "release",
    "find", "canned", "away", "back", "stats", "help", "cancel", "lang", "new", "reply", "link", "priority",
})

_INCOMING_FIELDS = frozenset(f.name for f in fields(Incoming))


# --- keys -------------------------------------------------------------------------------

def event_key(team_id: str, event_id: str) -> str:
    return f"slack:{team_id}:{event_id}"


def action_key(team_id: str, action_ts: str) -> str:
    return f"slack:{team_id}:action:{action_ts}"


def command_key(team_id: str, trigger_id: str) -> str:
    return f"slack:{team_id}:cmd:{trigger_id}"


def team_of(body: dict[str, Any]) -> str:
    """The workspace a request came from (events: ``team_id``; interactivity: ``team.id``)."""
    team = body.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    return str(body.get("team_id") or (body.get("user") or {}).get("team_id") or "")


# --- people -----------------------------------------------------------------------------

def locale_of(slack_locale: str | None) -> str | None:
    """``users.info``'s ``locale`` (``ru-RU``) as one of ours (``ru``), else ``None``."""
    lang = (slack_locale or "").replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in LOCALES else None


def name_of(user: dict[str, Any] | None) -> str | None:
    """The name to show for a ``users.info`` user: display name, real name, then handle."""
    if not user:
        return None
    profile = user.get("profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if name:
            return str(name)
    return None


def timezone_of(user: dict[str, Any] | None) -> str | None:
    """``users.info``'s ``tz`` (``Europe/Berlin``) when it is a zone we know, else ``None``."""
    return known_timezone(str((user or {}).get("tz") or "")) if user else None


# --- messages ---------------------------------------------------------------------------

def is_private(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def _body_of(event: dict[str, Any]) -> dict[str, Any]:
    """The message itself: for ``message_changed`` the new version inside the event."""
    if event.get("subtype") == EDITED:
        inner = event.get("message")
        return inner if isinstance(inner, dict) else {}
    return event


def from_a_bot(event: dict[str, Any]) -> bool:
    msg = _body_of(event)
    return bool(msg.get("bot_id") or msg.get("bot_profile") or msg.get("subtype") == "bot_message"
                or event.get("bot_id") or event.get("subtype") == "bot_message")


def thread_of(msg: dict[str, Any]) -> str | None:
    """The thread a message is in; a thread's root (``thread_ts == ts``) is in none."""
    thread_ts = msg.get("thread_ts")
    if thread_ts and thread_ts != msg.get("ts"):
        return str(thread_ts)
    return None


def _same_text(event: dict[str, Any]) -> bool:
    before = event.get("previous_message")
    return isinstance(before, dict) and before.get("text") == _body_of(event).get("text")


def concerns_desk(event: dict[str, Any]) -> bool:
    """A person's DM to the app, or a person's message in a channel thread; an edit of one."""
    subtype = event.get("subtype")
    if subtype not in TAKEN_SUBTYPES and subtype != EDITED:
        return False
    if from_a_bot(event):
        return False
    msg = _body_of(event)
    if not msg.get("user"):
        return False
    if subtype == EDITED and _same_text(event):
        return False  # Slack also reports an unfurl or a reaction count as a change
    if is_private(event):
        return True
    return thread_of(msg) is not None


def attachments_of(msg: dict[str, Any]) -> tuple[Attachment, ...]:
    found = []
    for f in msg.get("files") or ():
        if not isinstance(f, dict) or not f.get("id") or f.get("mode") == "tombstone":
            continue
        found.append(Attachment(name=str(f.get("name") or f.get("title") or "file"),
                                mime_type=str(f.get("mimetype") or "application/octet-stream"),
                                size=int(f.get("size") or 0), file_id=str(f["id"]), kind="file",
                                platform=PLATFORM))
    return tuple(found)


def _incoming(**values: Any) -> Incoming:
    return Incoming(**{k: v for k, v in values.items() if k in _INCOMING_FIELDS})


def message(event: dict[str, Any], key: str, *, locale: str | None = None,
            display_name: str | None = None) -> Incoming | None:
    """A DM or a thread message as the engine sees it; ``None`` when it does not concern the desk."""
    if not concerns_desk(event):
        return None
    msg = _body_of(event)
    edited = event.get("subtype") == EDITED
    return _incoming(
        platform=PLATFORM, chat_id=str(event.get("channel") or msg.get("channel") or ""),
        user_id=str(msg["user"]), event_key=key, text=str(msg.get("text") or ""),
        display_name=display_name, locale=locale, is_private=is_private(event),
        thread_id=thread_of(msg), message_id=str(msg.get("ts") or "") or None,
        attachments=attachments_of(msg), edit_of=str(msg.get("ts")) if edited else None,
    )


# --- interactivity ------------------------------------------------------------------------

def button(body: dict[str, Any], key: str, *, locale: str | None = None,
           display_name: str | None = None) -> Incoming:
    """A ``block_actions`` press: the decoded reference, or ``stale`` for anything unreadable.

    ``file_message`` is never a button (it is what a shortcut or a reaction becomes): a
    press claiming it is stale.
    """
    pressed = (body.get("actions") or [{}])[0]
    user = body.get("user") or {}
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or _home_dm(body)
    message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
    common: dict[str, Any] = {
        "platform": PLATFORM, "user_id": str(user.get("id") or ""), "event_key": key,
        "chat_id": str(channel or user.get("id") or ""), "is_private": str(channel or "D").startswith("D"),
        "display_name": display_name, "locale": locale, "alert": True,
        "message_id": str(message_ts) if message_ts else None,
    }
    data = actions.decode(pressed.get("value"))
    if data is None or data.action in GESTURES:
        return _incoming(**common, action="stale")
    return _incoming(**common, action=data.action, ticket_id=data.ticket, value=data.value)


def _home_dm(body: dict[str, Any]) -> str | None:
    """A press on the App Home has no channel; the Home carries the person's DM channel
    (``private_metadata``, see :mod:`bot.slack.home`), where the answer goes."""
    view = body.get("view") or {}
    dm = str(view.get("private_metadata") or "")
    return dm if view.get("type") == "home" and dm.startswith("D") else None


def press_key(body: dict[str, Any]) -> str:
    pressed = (body.get("actions") or [{}])[0]
    return action_key(team_of(body), str(pressed.get("action_ts") or body.get("trigger_id") or ""))


# --- slash command ------------------------------------------------------------------------

def command_text(text: str) -> str:
    """``/helpdesk`` arguments → what the engine reads: a sub-command, or a new request."""
    text = (text or "").strip()
    if not text:
        return "/new"
    first, _, rest = text.partition(" ")
    sub = first.lower().lstrip("/")
    if sub in SUBCOMMANDS:
        return f"/{sub} {rest.strip()}".rstrip()
    return f"/new {text}"


def command(body: dict[str, Any], key: str, *, locale: str | None = None,
            display_name: str | None = None) -> Incoming:
    channel = str(body.get("channel_id") or "")
    return _incoming(platform=PLATFORM, chat_id=channel, user_id=str(body.get("user_id") or ""), event_key=key,
                     text=command_text(str(body.get("text") or "")), display_name=display_name, locale=locale,
                     is_private=channel.startswith("D") or body.get("channel_name") == "directmessage")


# --- a message filed as a ticket (shortcut, reaction) -------------------------------------

def file_message(*, author: str, dm_channel: str, text: str, key: str, files: tuple[Attachment, ...] = (),
                 locale: str | None = None, display_name: str | None = None,
                 origin: Origin | None = None) -> Incoming:
    """Someone's message becomes their request: the author is the requester, in their DM;
    ``origin`` is the message (and who made the gesture), told the number when announced."""
    return _incoming(platform=PLATFORM, chat_id=dm_channel, user_id=author, event_key=key, action=FILE_MESSAGE,
                     value=text, attachments=files, locale=locale, display_name=display_name, is_private=True,
                     origin=origin)


def filed_request(*, user: str, dm_channel: str, text: str, request: FormRequest, key: str,
                  locale: str | None = None, display_name: str | None = None) -> Incoming:
    """The ``/helpdesk`` modal submitted: the description, and the category, priority and
    form answers chosen (the engine checks them again)."""
    return _incoming(platform=PLATFORM, chat_id=dm_channel, user_id=user, event_key=key, action=FILE_REQUEST,
                     text=text, value=request.to_value(), locale=locale, display_name=display_name, is_private=True)


# --- App Home -----------------------------------------------------------------------------

def home_opened(event: dict[str, Any], key: str, *, locale: str | None = None,
                display_name: str | None = None) -> Incoming | None:
    """The person opened the app's Home tab (``None`` for the Messages / About tabs)."""
    user = str(event.get("user") or "")
    if event.get("tab") != "home" or not user:
        return None
    channel = str(event.get("channel") or "")  # the app's DM with them
    return _incoming(platform=PLATFORM, chat_id=channel or user, user_id=user, event_key=key, signal=HOME_SIGNAL,
                     locale=locale, display_name=display_name, is_private=True)
