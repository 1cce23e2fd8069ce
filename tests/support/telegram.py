"""Story DSL over the fake Bot API: tests read as users acting in Telegram.

    fake = FakeTelegram(rate_limits=False)
    anna = fake.user(101, "Anna", language_code="ru")
    it = fake.group(-1001, "IT", forum=True)
    boris = fake.user(202, "Boris")
    await anna.says("VPN не работает")
    reply = await anna.receives("#1")              # the bot's next message in anna's chat
    card = await it.receives("VPN")                # the card in the team group
    press = await boris.presses(card, "Claim")     # finds the button by its label
    assert (await press.answered())["show_alert"] is False
    await boris.says("try again", chat=it, thread=card.thread_id)

Every action builds the update Telegram would send and hands it to
``FakeTelegram.push_update``; the bot receives it through getUpdates or its webhook.
The bot's messages are read back as ``BotMessage`` views (current text after edits,
buttons, topic, reply).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from aiogram import Bot
from aiohttp import web
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.fakes.telegram import FakeTelegram, Topic, buttons_of, media_payload

if TYPE_CHECKING:
    ChatRef = Union["Group", "Person", int, dict[str, Any], None]
    MessageRef = Union["BotMessage", dict[str, Any], int, Any]  # Any: an aiogram Message

__all__ = ["BotMessage", "FakeTelegram", "Group", "Person", "Press", "as_update", "bot_for"]


def bot_for(fake: FakeTelegram, **kwargs: Any) -> Bot:
    """A real aiogram Bot talking to the fake (close it with ``await bot.session.close()``)."""
    api = TelegramAPIServer.from_base(fake.base_url)
    return Bot(fake.token, session=AiohttpSession(api=api), **kwargs)


@dataclass
class BotMessage:
    """A live view of one message in the fake (the bot's, usually)."""

    fake: FakeTelegram
    chat_id: int
    message_id: int

    @property
    def raw(self) -> dict[str, Any]:
        msg = self.fake.message(self.chat_id, self.message_id)
        assert msg is not None, f"message {self.message_id} not in chat {self.chat_id}"
        return msg

    @property
    def text(self) -> str:
        """Current text (or caption) as the user sees it, after entity parsing and edits."""
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def source(self) -> str | None:
        """The text as the bot sent it (HTML source under parse_mode HTML)."""
        return (self.raw.get("_source") or {}).get("text")

    @property
    def history(self) -> list[str]:
        """Every text the message had, first to current."""
        return list(self.raw.get("_history") or [self.text])

    @property
    def buttons(self) -> list[str]:
        return [b["text"] for b in buttons_of(self.raw)]

    @property
    def button_data(self) -> dict[str, str]:
        return {b["text"]: b.get("callback_data", "") for b in buttons_of(self.raw)}

    @property
    def thread_id(self) -> int | None:
        return self.raw.get("message_thread_id")

    @property
    def reply_to(self) -> int | None:
        reply = self.raw.get("reply_to_message")
        if reply is None or "forum_topic_created" in reply:
            return None
        return reply["message_id"]

    @property
    def edited(self) -> bool:
        return "edit_date" in self.raw

    @property
    def deleted(self) -> bool:
        return bool(self.raw.get("_deleted"))

    @property
    def media(self) -> dict[str, Any] | None:
        """The file part (photo sizes list's largest, document, voice, ...), if any."""
        for kind in ("photo", "document", "voice", "video", "audio", "animation", "sticker"):
            if kind in self.raw:
                value = self.raw[kind]
                return {"kind": kind, **(value[-1] if isinstance(value, list) else value)}
        return None

    def __repr__(self) -> str:
        return f"BotMessage(chat={self.chat_id}, id={self.message_id}, text={self.text[:60]!r}, buttons={self.buttons})"


@dataclass
class Press:
    """A button press (callback_query update) and, once given, the bot's answer."""

    fake: FakeTelegram
    query_id: str
    update: dict[str, Any]

    @property
    def answer(self) -> dict[str, Any] | None:
        return self.fake.callback_answer(self.query_id)

    async def answered(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for answerCallbackQuery; returns {"text", "show_alert", "url"}."""
        answer: dict[str, Any] = await self.fake.wait_for(lambda: self.answer, timeout)
        return answer


class _Chatty:
    """Reading the bot's messages in one chat."""

    fake: FakeTelegram
    chat_id: int
    _seen: dict[int | None, int]  # per topic (None: the whole chat): last message received

    def messages(self, thread: int | None = None) -> list[BotMessage]:
        """The bot's messages here (in topic ``thread`` when given), oldest first."""
        return [BotMessage(self.fake, self.chat_id, m["message_id"])
                for m in self.fake.bot_messages(self.chat_id, thread)]

    def last(self, thread: int | None = None) -> BotMessage | None:
        found = self.messages(thread)
        return found[-1] if found else None

    def find(self, contains: str, thread: int | None = None) -> BotMessage | None:
        """The latest bot message whose current text contains ``contains``."""
        for m in reversed(self.messages(thread)):
            if contains in m.text:
                return m
        return None

    async def receives(self, contains: str | None = None, *, thread: int | None = None,
                       timeout: float = 5.0) -> BotMessage:
        """Wait for the next bot message here (after the last one received through this
        helper) whose text contains ``contains``; later calls continue after it."""
        def check() -> BotMessage | None:
            for m in self.messages(thread):
                if m.message_id > self._seen.get(thread, 0) and (contains is None or contains in m.text):
                    return m
            return None

        try:
            found: BotMessage = await self.fake.wait_for(check, timeout)
        except TimeoutError:
            texts = [m.text[:80] for m in self.messages(thread)]
            raise AssertionError(
                f"no bot message containing {contains!r} in chat {self.chat_id}"
                f"{f' thread {thread}' if thread else ''}; bot messages: {texts}"
            ) from None
        self._seen[thread] = found.message_id
        return found

    async def sees(self, contains: str, *, thread: int | None = None, timeout: float = 5.0) -> BotMessage:
        """Wait until some bot message here (new or edited) contains ``contains``."""
        try:
            found: BotMessage = await self.fake.wait_for(lambda: self.find(contains, thread), timeout)
        except TimeoutError:
            texts = [m.text[:80] for m in self.messages(thread)]
            raise AssertionError(f"nothing shows {contains!r} in chat {self.chat_id}: {texts}") from None
        return found

    def topics(self) -> list[Topic]:
        return self.fake.topics(self.chat_id)

    def topic_named(self, prefix: str) -> Topic | None:
        return next((t for t in self.topics() if t.name.startswith(prefix)), None)

    async def gets_topic(self, prefix: str = "", timeout: float = 5.0) -> Topic:
        topic: Topic = await self.fake.wait_for(lambda: self.topic_named(prefix), timeout)
        return topic


class Group(_Chatty):
    """A team group (or forum supergroup) the bot is in."""

    def __init__(self, fake: FakeTelegram, chat: dict[str, Any]) -> None:
        self.fake = fake
        self.chat = chat
        self.chat_id = chat["id"]
        self._seen = {}

    @property
    def id(self) -> int:
        return self.chat_id

    @property
    def forum(self) -> bool:
        return bool(self.chat.get("is_forum"))

    async def removes_bot(self, by: Person) -> dict[str, Any]:
        """``by`` removes the bot from the group: sends answer 403; a my_chat_member update."""
        self.fake.block(self.chat_id)
        return await self._member_update(by, "administrator" if self.chat_id in self.fake.bot_admin_in
                                         else "member", "kicked")

    async def adds_bot(self, by: Person, *, admin: bool = True) -> dict[str, Any]:
        self.fake.unblock(self.chat_id)
        if admin:
            self.fake.bot_admin_in.add(self.chat_id)
        return await self._member_update(by, "left", "administrator" if admin else "member")

    async def _member_update(self, by: Person, old: str, new: str) -> dict[str, Any]:
        return await self.fake.push_update({"my_chat_member": {
            "chat": dict(self.chat),
            "from": dict(by.user),
            "date": int(time.time()),
            "old_chat_member": _member(self.fake, old),
            "new_chat_member": _member(self.fake, new),
        }})

    def __repr__(self) -> str:
        return f"Group({self.chat_id}, {self.chat.get('title')!r})"


class Person(_Chatty):
    """A Telegram user; their private chat with the bot has the same id."""

    def __init__(self, fake: FakeTelegram, user: dict[str, Any]) -> None:
        self.fake = fake
        self.user = user
        self.id: int = user["id"]
        self.chat_id = self.id
        self._seen = {}

    def __repr__(self) -> str:
        return f"Person({self.id}, {self.user.get('first_name')!r})"

    @property
    def chat(self) -> dict[str, Any]:
        return self.fake.chats[self.id]

    # -------------------------------------------------------------- building messages
    def _chat_of(self, chat: ChatRef) -> dict[str, Any]:
        if chat is None:
            return self.chat
        if isinstance(chat, (Group, Person)):
            return chat.chat
        if isinstance(chat, dict):
            return chat
        return self.fake.chats[int(chat)]

    def _message(self, chat: ChatRef, thread: int | None, reply_to: MessageRef | None,
                 content: dict[str, Any]) -> dict[str, Any]:
        target = self._chat_of(chat)
        msg: dict[str, Any] = {
            "message_id": self.fake.new_message_id(target["id"]),
            "from": dict(self.user),
            "chat": dict(target),
            "date": int(time.time()),
            **content,
        }
        if thread is not None:
            topic = self.fake.topic(target["id"], thread)
            assert topic is not None, f"no topic {thread} in chat {target['id']}"
            msg["message_thread_id"] = thread
            msg["is_topic_message"] = True
        replied: dict[str, Any] | None = None
        if reply_to is not None:
            replied = self.fake.message(target["id"], _message_id(reply_to))
            assert replied is not None, f"no message {reply_to} to reply to in chat {target['id']}"
            if thread is None and replied.get("message_thread_id") and replied.get("is_topic_message"):
                msg["message_thread_id"] = replied["message_thread_id"]
                msg["is_topic_message"] = True
        elif thread is not None and target["type"] != "private":
            # In a forum topic Telegram sets reply_to_message to the topic's creation message.
            replied = self.fake.message(target["id"], thread)
        if replied is not None:
            msg["reply_to_message"] = {k: v for k, v in replied.items()
                                       if not k.startswith("_") and k != "reply_to_message"}
        return self.fake.store_message(msg)

    async def _send(self, chat: ChatRef, thread: int | None, reply_to: MessageRef | None,
                    content: dict[str, Any], push: bool = True) -> dict[str, Any]:
        msg = self._message(chat, thread, reply_to, content)
        if not push:
            return msg
        if not self.fake.bot_sees(msg):
            self.fake.withheld.append(msg)
            return msg
        update = await self.fake.push_update({"message": _public(msg)})
        msg["_update_id"] = update["update_id"]
        return msg

    # -------------------------------------------------------------- actions
    async def says(self, text: str, *, chat: ChatRef = None, thread: int | None = None,
                   reply_to: MessageRef | None = None, push: bool = True) -> dict[str, Any]:
        """A text message (commands get their bot_command entity, as Telegram sets it).
        ``push=False`` only builds and stores the message (for ``fake.post_webhook``
        with ``as_update(message)``)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/") and len(text) > 1:
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._send(chat, thread, reply_to, content, push)

    async def starts(self, payload: str | None = None) -> dict[str, Any]:
        """/start in the private chat, with a deep-link payload (t.me/<bot>?start=payload)."""
        return await self.says("/start" + (f" {payload}" if payload else ""))

    async def _sends_file(self, kind: str, size: int, *, name: str | None = None,
                          mime_type: str | None = None, caption: str | None = None,
                          chat: ChatRef = None, thread: int | None = None,
                          reply_to: MessageRef | None = None) -> dict[str, Any]:
        rec = self.fake.add_file(kind, size, name=name, mime_type=mime_type)
        content = media_payload(rec)
        if caption:
            content["caption"] = caption
        return await self._send(chat, thread, reply_to, content)

    async def sends_photo(self, caption: str | None = None, *, size: int = 150_000,
                          **where: Any) -> dict[str, Any]:
        return await self._sends_file("photo", size, caption=caption, **where)

    async def sends_document(self, name: str = "report.pdf", size: int = 200_000, *,
                             mime_type: str | None = None, caption: str | None = None,
                             **where: Any) -> dict[str, Any]:
        if mime_type is None:
            mime_type = _guess_mime(name)
        return await self._sends_file("document", size, name=name, mime_type=mime_type,
                                      caption=caption, **where)

    async def sends_voice(self, size: int = 30_000, **where: Any) -> dict[str, Any]:
        return await self._sends_file("voice", size, mime_type="audio/ogg", **where)

    async def sends_video(self, size: int = 2_000_000, *, name: str | None = "video.mp4",
                          caption: str | None = None, **where: Any) -> dict[str, Any]:
        return await self._sends_file("video", size, name=name, mime_type="video/mp4",
                                      caption=caption, **where)

    async def sends_sticker(self, **where: Any) -> dict[str, Any]:
        return await self._sends_file("sticker", 20_000, **where)

    async def sends_location(self, latitude: float = 55.75, longitude: float = 37.62,
                             **where: Any) -> dict[str, Any]:
        return await self._send(where.get("chat"), where.get("thread"), where.get("reply_to"),
                                {"location": {"latitude": latitude, "longitude": longitude}})

    async def sends_contact(self, phone: str = "+70000000000", first_name: str = "Ivan",
                            **where: Any) -> dict[str, Any]:
        return await self._send(where.get("chat"), where.get("thread"), where.get("reply_to"),
                                {"contact": {"phone_number": phone, "first_name": first_name}})

    async def sends_poll(self, question: str = "Lunch?", options: tuple[str, ...] = ("yes", "no"),
                         **where: Any) -> dict[str, Any]:
        poll = {
            "id": f"poll{self.fake.new_message_id(0)}",
            "question": question,
            "options": [{"persistent_id": f"o{i}", "text": o, "voter_count": 0}
                        for i, o in enumerate(options)],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return await self._send(where.get("chat"), where.get("thread"), where.get("reply_to"),
                                {"poll": poll})

    async def forwards(self, text: str, *, origin: Person | Group | str | None = None,
                       chat: ChatRef = None, thread: int | None = None) -> dict[str, Any]:
        """A forwarded text message; ``origin`` a Person (user origin), a Group/channel
        (chat origin) or a name string (a user who hides their account)."""
        date = int(time.time()) - 3600
        forward: dict[str, Any]
        if isinstance(origin, Person):
            forward = {"type": "user", "date": date, "sender_user": dict(origin.user)}
        elif isinstance(origin, Group):
            forward = {"type": "chat", "date": date, "sender_chat": dict(origin.chat)}
        else:
            forward = {"type": "hidden_user", "date": date, "sender_user_name": origin or "Someone"}
        return await self._send(chat, thread, None, {"text": text, "forward_origin": forward})

    async def edits(self, message: MessageRef, new_text: str) -> dict[str, Any]:
        """The user edits their own message: an ``edited_message`` update."""
        if isinstance(message, BotMessage):
            chat_id = message.chat_id
        elif isinstance(message, dict):
            chat_id = message["chat"]["id"]
        elif hasattr(message, "chat"):
            chat_id = message.chat.id if hasattr(message.chat, "id") else message.chat_id
        else:
            chat_id = self.chat_id
        stored = self.fake.message(chat_id, _message_id(message))
        assert stored is not None and stored["from"]["id"] == self.id, "can only edit own messages"
        stored["text"] = new_text
        stored["edit_date"] = int(time.time())
        stored.setdefault("_history", []).append(new_text)
        update = await self.fake.push_update({"edited_message": _public(stored)})
        return update

    async def presses(self, message: MessageRef, label: str, *, chat: ChatRef = None) -> Press:
        """Press the inline button labelled ``label`` on the bot's message (exact label,
        else the only label containing it)."""
        view = self._view(message, chat)
        buttons = buttons_of(view.raw)
        matches = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if label.lower() in b["text"].lower()
        ]
        assert len(matches) == 1, f"no single button {label!r} on {view!r}"
        assert "callback_data" in matches[0], f"button {label!r} has no callback_data"
        return await self.presses_data(view, matches[0]["callback_data"])

    async def presses_data(self, message: MessageRef, data: str, *, chat: ChatRef = None) -> Press:
        """A callback query with arbitrary data on a message (a forged or old button)."""
        view = self._view(message, chat)
        assert not view.deleted, f"{view!r} was deleted"
        query_id = self.fake.new_callback_id()
        query = {
            "id": query_id,
            "from": dict(self.user),
            "message": _public(view.raw),
            "chat_instance": f"ci{abs(view.chat_id)}",
            "data": data,
        }
        self.fake.callback_queries[query_id] = {"answer": None, "data": data, "user": self.id}
        update = await self.fake.push_update({"callback_query": query})
        self.fake.callback_queries[query_id]["update"] = update
        return Press(self.fake, query_id, update)

    async def creates_topic(self, name: str) -> Topic:
        """The user opens a topic in their private chat with the bot (topics enabled)."""
        assert self.fake.has_topics_enabled, "the bot has no topics in private chats"
        thread_id = self.fake.new_message_id(self.chat_id)
        topic = Topic(self.chat_id, thread_id, name)
        self.fake.topics_by_chat.setdefault(self.chat_id, {})[thread_id] = topic
        msg = self.fake.store_message({
            "message_id": thread_id,
            "message_thread_id": thread_id,
            "from": dict(self.user),
            "chat": dict(self.chat),
            "date": int(time.time()),
            "forum_topic_created": {"name": name, "icon_color": topic.icon_color},
            "is_topic_message": True,
        })
        await self.fake.push_update({"message": _public(msg)})
        return topic

    async def blocks_bot(self) -> dict[str, Any]:
        """Blocks the bot: sends to this chat answer 403; a my_chat_member update."""
        self.fake.block(self.id)
        return await self._member_update("member", "kicked")

    async def unblocks_bot(self) -> dict[str, Any]:
        self.fake.unblock(self.id)
        return await self._member_update("kicked", "member")

    async def _member_update(self, old: str, new: str) -> dict[str, Any]:
        return await self.fake.push_update({"my_chat_member": {
            "chat": dict(self.chat),
            "from": dict(self.user),
            "date": int(time.time()),
            "old_chat_member": _member(self.fake, old),
            "new_chat_member": _member(self.fake, new),
        }})

    def _view(self, message: MessageRef, chat: ChatRef) -> BotMessage:
        if isinstance(message, BotMessage):
            return message
        if isinstance(message, dict):
            return BotMessage(self.fake, message["chat"]["id"], message["message_id"])
        if hasattr(message, "message_id") and hasattr(message, "chat"):  # an aiogram Message
            return BotMessage(self.fake, message.chat.id, message.message_id)
        return BotMessage(self.fake, self._chat_of(chat)["id"], int(message))


def _member(fake: FakeTelegram, status: str) -> dict[str, Any]:
    """The bot as a ChatMember with this status (the shapes aiogram reads)."""
    out: dict[str, Any] = {"status": status, "user": fake.bot_user}
    if status == "kicked":
        out["until_date"] = 0
    if status == "administrator":
        out.update({
            "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
            "can_delete_messages": True, "can_manage_video_chats": False,
            "can_restrict_members": False, "can_promote_members": False,
            "can_change_info": False, "can_invite_users": True, "can_post_stories": False,
            "can_edit_stories": False, "can_delete_stories": False,
            "can_send_welcome_messages": False, "can_pin_messages": True,
            "can_manage_topics": True,
        })
    return out


def as_update(message: dict[str, Any], update_id: int | None = None) -> dict[str, Any]:
    """A message update built from a message dict (e.g. ``says(..., push=False)``)."""
    update: dict[str, Any] = {"message": _public(message)}
    if update_id is not None:
        update["update_id"] = update_id
    return update


def _message_id(message: MessageRef) -> int:
    if isinstance(message, BotMessage):
        return message.message_id
    if isinstance(message, dict):
        return int(message["message_id"])
    if hasattr(message, "message_id"):  # an aiogram Message
        return int(message.message_id)
    return int(message)


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _guess_mime(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "pdf": "application/pdf",
        "txt": "text/plain",
        "png": "image/png",
        "jpg": "image/jpeg",
        "zip": "application/zip",
        "log": "text/plain",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }.get(ext, "application/octet-stream")


# --- a desk pointed at the fake ------------------------------------------------------------

TOKEN = "424242424:AAHfake-token-for-tests_0123456789abc"  # the shape BotFather gives
SECRET = "s3cret_Token-for-tests-0123456789"
PUBLIC_URL = "https://desk.example.com/telegram/webhook"


def telegram_section(fake: FakeTelegram, mode: str) -> dict[str, Any]:
    """The config's ``telegram`` section for a desk talking to ``fake`` in ``mode``."""
    return {"token": fake.token, "api_base": fake.base_url, "mode": mode,
            "webhook": {"url": PUBLIC_URL, "secret": SECRET}}


def pointing_at(config: Any, url: str) -> Any:
    """``config`` with the webhook URL replaced by the loopback one (config accepts only
    https:// URLs, as Telegram does; the fake posts to plain http on 127.0.0.1)."""
    tg = config.telegram
    tg = tg.model_copy(update={"webhook": tg.webhook.model_copy(update={"url": url})})
    return config.model_copy(update={"telegram": tg})


def loopback_socket() -> socket.socket:
    """A socket bound to a free loopback port (its URL can go into config before serving)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(routes: list[web.RouteDef], sock: socket.socket) -> web.AppRunner:
    """Serve ``routes`` (a frontend's webhook) on ``sock``; ``await runner.cleanup()`` after."""
    server = web.Application()
    server.add_routes(routes)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner
