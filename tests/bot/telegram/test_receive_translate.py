"""The translation table: Telegram updates (as the Bot API sends them) → Incoming.

Updates are fed through the real aiogram Dispatcher built by ``bot.telegram.routers``;
a recording hand-off stands in for the engine, so these tests show exactly which
Incoming (or none) each kind of update becomes.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update

from bot.telegram import callbacks, translate
from bot.telegram.handoff import Handoff
from bot.telegram.routers import ALLOWED_UPDATES, build_dispatcher
from handlers.events import Attachment, Button, Incoming, Outcome

BOT_ID = 424242
ANNA = {"id": 1001, "is_bot": False, "first_name": "Anna", "last_name": "K", "language_code": "ru"}
BORIS = {"id": 2002, "is_bot": False, "first_name": "Boris", "language_code": "en-GB"}
PRIVATE = {"id": 1001, "type": "private", "first_name": "Anna"}
GROUP = {"id": -100777, "type": "supergroup", "title": "IT", "is_forum": True}
PLAIN_GROUP = {"id": -555, "type": "group", "title": "HR"}


class Recording(Handoff):
    def __init__(self) -> None:
        super().__init__()
        self.bot_id = BOT_ID
        self.bot_username = "Acme_Desk_Bot"
        self.seen: list[Incoming] = []

    async def handle(self, inc: Incoming) -> Outcome:
        self.seen.append(inc)
        return Outcome()


def msg(chat: dict[str, Any] = PRIVATE, user: dict[str, Any] = ANNA, message_id: int = 10, **fields: Any) -> dict[str, Any]:
    return {"message_id": message_id, "date": 1700000000, "chat": chat, "from": user, **fields}


async def feed(*updates: dict[str, Any]) -> list[Incoming]:
    desk = Recording()
    dp = build_dispatcher(desk)
    bot = Bot(f"{BOT_ID}:AAH-test-token-not-real")
    try:
        for n, body in enumerate(updates, start=1):
            await dp.feed_update(bot, Update.model_validate({"update_id": 500 + n, **body}, context={"bot": bot}))
    finally:
        await bot.session.close()
    return desk.seen


async def one(body: dict[str, Any]) -> Incoming:
    seen = await feed(body)
    assert len(seen) == 1, seen
    return seen[0]


# --- private chats ------------------------------------------------------------------


async def test_private_text_names_person_chat_locale_and_event() -> None:
    inc = await one({"message": msg(text="не работает VPN")})
    assert inc.platform == "telegram"
    assert inc.event_key == f"telegram:{BOT_ID}:501"
    assert (inc.chat_id, inc.user_id, inc.text) == ("1001", "1001", "не работает VPN")
    assert inc.display_name == "Anna K"
    assert inc.locale == "ru"
    assert inc.is_private is True
    assert inc.thread_id is None and inc.reply_to is None
    assert inc.attachments == () and inc.signal is None and inc.edit_of is None


@pytest.mark.parametrize("text", ["/start cat_network", "/new", "/my", "/cancel", "/help", "/lang ru", "/start"])
async def test_private_commands_pass_as_typed(text: str) -> None:
    inc = await one({"message": msg(text=text, entities=[{"type": "bot_command", "offset": 0,
                                                          "length": len(text.split()[0])}])})
    assert inc.text == text
    assert inc.is_command


@pytest.mark.parametrize(("code", "locale"), [("ru", "ru"), ("en-GB", "en"), ("RU-ru", "ru"), ("de", None), (None, None)])
async def test_language_code_becomes_a_locale_hint_only_when_we_speak_it(code: str | None, locale: str | None) -> None:
    user = {**ANNA, "language_code": code} if code else {k: v for k, v in ANNA.items() if k != "language_code"}
    inc = await one({"message": msg(user=user, text="hi")})
    assert inc.locale == locale


async def test_hostile_text_arrives_unchanged() -> None:
    text = "<b>x</b> </a> &amp; \u200f\u202eשלום 🙂\x00" + "z" * 10_000
    inc = await one({"message": msg(text=text)})
    assert inc.text == text


async def test_reply_without_topics_is_reply_to() -> None:
    replied = msg(message_id=7, user={"id": BOT_ID, "is_bot": True, "first_name": "Desk"}, text="#12 card")
    inc = await one({"message": msg(text="still broken", reply_to_message=replied)})
    assert inc.reply_to == "7"
    assert inc.thread_id is None


async def test_topic_message_has_thread_and_not_the_topic_creation_as_reply() -> None:
    created = msg(message_id=40, message_thread_id=40, forum_topic_created={"name": "#12 VPN", "icon_color": 0},
                  user={"id": BOT_ID, "is_bot": True, "first_name": "Desk"})
    inc = await one({"message": msg(message_id=45, text="still broken", message_thread_id=40,
                                    is_topic_message=True, reply_to_message=created)})
    assert inc.thread_id == "40"
    assert inc.reply_to is None


async def test_reply_inside_a_topic_keeps_both() -> None:
    earlier = msg(message_id=42, message_thread_id=40, is_topic_message=True, text="did you restart?",
                  user={"id": BOT_ID, "is_bot": True, "first_name": "Desk"})
    inc = await one({"message": msg(message_id=46, text="yes", message_thread_id=40, is_topic_message=True,
                                    reply_to_message=earlier)})
    assert (inc.thread_id, inc.reply_to) == ("40", "42")


async def test_thread_id_without_topic_flag_is_not_a_topic() -> None:
    # A plain reply in a non-forum chat carries message_thread_id of the reply chain.
    replied = msg(message_id=7, text="card")
    inc = await one({"message": msg(text="x", message_thread_id=7, reply_to_message=replied)})
    assert inc.thread_id is None
    assert inc.reply_to == "7"


async def test_message_id_set_where_incoming_has_the_field() -> None:
    inc = await one({"message": msg(message_id=77, text="hello")})
    if "message_id" in Incoming.__dataclass_fields__:
        assert inc.message_id == "77"  # type: ignore[attr-defined]
    else:
        assert not hasattr(inc, "message_id")


# --- attachments ------------------------------------------------------------------------


def photo_sizes() -> list[dict[str, Any]]:
    return [
        {"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 60, "file_size": 1000},
        {"file_id": "large", "file_unique_id": "u3", "width": 1280, "height": 853, "file_size": 120_000},
        {"file_id": "medium", "file_unique_id": "u2", "width": 320, "height": 213, "file_size": 9000},
    ]


async def test_photo_is_the_largest_size_and_caption_is_text() -> None:
    inc = await one({"message": msg(photo=photo_sizes(), caption="screenshot of the error")})
    assert inc.text == "screenshot of the error"
    assert inc.attachments == (Attachment("photo.jpg", "image/jpeg", 120_000, "large", "photo", "telegram"),)


@pytest.mark.parametrize(("field", "body", "expected"), [
    ("document", {"file_id": "D", "file_unique_id": "d", "file_name": "log.txt", "mime_type": "text/plain",
                  "file_size": 25 * 1024 * 1024},
     Attachment("log.txt", "text/plain", 25 * 1024 * 1024, "D", "document", "telegram")),
    ("voice", {"file_id": "V", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg", "file_size": 5000},
     Attachment("voice.ogg", "audio/ogg", 5000, "V", "voice", "telegram")),
    ("video", {"file_id": "M", "file_unique_id": "m", "width": 1, "height": 1, "duration": 2, "file_name": "bug.mp4",
               "mime_type": "video/mp4", "file_size": 700},
     Attachment("bug.mp4", "video/mp4", 700, "M", "video", "telegram")),
    ("audio", {"file_id": "A", "file_unique_id": "a", "duration": 2, "title": "call", "mime_type": "audio/mpeg"},
     Attachment("call", "audio/mpeg", 0, "A", "audio", "telegram")),
    ("video_note", {"file_id": "N", "file_unique_id": "n", "length": 1, "duration": 2, "file_size": 9},
     Attachment("video_note.mp4", "video/mp4", 9, "N", "video_note", "telegram")),
])
async def test_each_file_kind_becomes_an_attachment(field: str, body: dict[str, Any], expected: Attachment) -> None:
    inc = await one({"message": msg(**{field: body})})
    assert inc.attachments == (expected,)
    assert inc.text == ""
    assert inc.signal is None


async def test_animation_is_one_attachment_not_also_a_document() -> None:
    anim = {"file_id": "G", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1, "file_name": "x.mp4",
            "mime_type": "video/mp4"}
    inc = await one({"message": msg(animation=anim, document={k: anim[k] for k in ("file_id", "file_unique_id",
                                                                                 "file_name", "mime_type")})})
    assert [a.kind for a in inc.attachments] == ["animation"]


# --- edits, forwards, unsupported -------------------------------------------------------


async def test_edited_message_names_the_original() -> None:
    inc = await one({"edited_message": msg(message_id=33, text="VPN fails since Monday", edit_date=1700000100)})
    assert inc.edit_of == "33"
    assert inc.text == "VPN fails since Monday"
    assert inc.event_key == f"telegram:{BOT_ID}:501"


async def test_live_location_updates_are_not_edits() -> None:
    assert await feed({"edited_message": msg(location={"latitude": 1.0, "longitude": 2.0}, edit_date=1)}) == []


@pytest.mark.parametrize(("origin", "name"), [
    ({"type": "user", "date": 1, "sender_user": {"id": 5, "is_bot": False, "first_name": "Vera", "last_name": "P"}},
     "Vera P"),
    ({"type": "hidden_user", "date": 1, "sender_user_name": "Hidden Person"}, "Hidden Person"),
    ({"type": "chat", "date": 1, "sender_chat": {"id": -1, "type": "supergroup", "title": "Ops"}}, "Ops"),
    ({"type": "channel", "date": 1, "chat": {"id": -2, "type": "channel", "title": "News"}, "message_id": 3,
      "author_signature": "Ed"}, "News (Ed)"),
])
async def test_forwarded_message_says_from_whom(origin: dict[str, Any], name: str) -> None:
    inc = await one({"message": msg(text="the error text", forward_origin=origin)})
    assert inc.forwarded_from == name
    assert inc.text == "the error text"


@pytest.mark.parametrize("content", [
    {"sticker": {"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
                 "is_animated": False, "is_video": False}},
    {"location": {"latitude": 55.7, "longitude": 37.6}},
    {"contact": {"phone_number": "+100", "first_name": "Ivan"}},
    {"poll": {"id": "p", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
              "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
              "allows_revoting": False, "members_only": False}},
    {"dice": {"emoji": "🎲", "value": 3}},
    {"venue": {"location": {"latitude": 1, "longitude": 1}, "title": "Cafe", "address": "Main st"}},
])
async def test_unsupported_content_in_private_is_signalled(content: dict[str, Any]) -> None:
    inc = await one({"message": msg(**content)})
    assert inc.signal == "unsupported"
    assert inc.text == "" and inc.attachments == ()
    assert (inc.chat_id, inc.user_id) == ("1001", "1001")


async def test_service_messages_and_bots_are_ignored() -> None:
    seen = await feed(
        {"message": msg(new_chat_members=[BORIS])},
        {"message": msg(pinned_message=msg(text="x"))},
        {"message": msg(user={"id": 9, "is_bot": True, "first_name": "OtherBot"}, text="spam")},
    )
    assert seen == []


# --- team groups ------------------------------------------------------------------------


async def test_group_chatter_outside_a_thread_is_ignored_but_commands_and_threads_pass() -> None:
    card = msg(chat=PLAIN_GROUP, message_id=90, user={"id": BOT_ID, "is_bot": True, "first_name": "Desk"}, text="#3")
    seen = await feed(
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="lunch?")},
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="/queue")},
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="restart the router", reply_to_message=card)},
        {"message": msg(chat=GROUP, user=BORIS, text="on it", message_thread_id=55, is_topic_message=True)},
    )
    assert [(i.text, i.is_private, i.reply_to, i.thread_id) for i in seen] == [
        ("/queue", False, None, None),
        ("restart the router", False, "90", None),
        ("on it", False, None, "55"),
    ]
    assert all(i.chat_id in ("-555", "-100777") and i.user_id == "2002" and i.locale == "en" for i in seen)


async def test_group_commands_for_another_bot_are_ignored() -> None:
    seen = await feed(
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="/help@other_bot")},
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="/take@acme_desk_bot 12")},
        {"message": msg(chat=PLAIN_GROUP, user=BORIS, text="/take 13")},
    )
    assert [i.text for i in seen] == ["/take@acme_desk_bot 12", "/take 13"]


async def test_group_stickers_only_in_a_thread() -> None:
    sticker = {"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
               "is_animated": False, "is_video": False}
    seen = await feed(
        {"message": msg(chat=GROUP, user=BORIS, sticker=sticker)},
        {"message": msg(chat=GROUP, user=BORIS, sticker=sticker, message_thread_id=55, is_topic_message=True)},
    )
    assert [(i.signal, i.thread_id) for i in seen] == [("unsupported", "55")]


async def test_group_file_in_thread_and_edit() -> None:
    seen = await feed(
        {"message": msg(chat=GROUP, user=BORIS, message_thread_id=55, is_topic_message=True, photo=photo_sizes())},
        {"edited_message": msg(chat=GROUP, user=BORIS, message_id=61, message_thread_id=55, is_topic_message=True,
                               text="fixed typo", edit_date=2)},
    )
    assert seen[0].attachments[0].file_id == "large" and seen[0].is_private is False
    assert (seen[1].edit_of, seen[1].thread_id, seen[1].text) == ("61", "55", "fixed typo")


async def test_channel_posts_are_not_handled_and_not_asked_for() -> None:
    post = {"message_id": 1, "date": 1, "chat": {"id": -300, "type": "channel", "title": "News"}, "text": "hi"}
    assert await feed({"channel_post": post}) == []
    assert "channel_post" not in ALLOWED_UPDATES and "inline_query" not in ALLOWED_UPDATES


def test_allowed_updates_are_what_the_routers_handle() -> None:
    assert sorted(ALLOWED_UPDATES) == sorted(build_dispatcher(Handoff()).resolve_used_update_types())


# --- membership -------------------------------------------------------------------------


def member_update(chat: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    me = {"id": BOT_ID, "is_bot": True, "first_name": "Desk"}
    status = {"kicked": {"until_date": 0}, "member": {}, "left": {}}
    return {"my_chat_member": {"chat": chat, "from": ANNA, "date": 1,
                               "old_chat_member": {"status": old, "user": me, **status[old]},
                               "new_chat_member": {"status": new, "user": me, **status[new]}}}


async def test_blocking_and_unblocking_in_private() -> None:
    seen = await feed(member_update(PRIVATE, "member", "kicked"), member_update(PRIVATE, "kicked", "member"))
    assert [(i.signal, i.chat_id, i.user_id, i.text) for i in seen] == [
        ("blocked", "1001", "1001", ""), ("unblocked", "1001", "1001", "")]


async def test_membership_in_groups_is_ignored() -> None:
    assert await feed(member_update(GROUP, "left", "member"), member_update(GROUP, "member", "left")) == []


# --- buttons (translation only; answering is tested end to end) ------------------------


def query(data: str | None, *, chat: dict[str, Any] = PRIVATE, user: dict[str, Any] = ANNA) -> Any:
    from aiogram.types import CallbackQuery

    body: dict[str, Any] = {"id": "q1", "from": user, "chat_instance": "ci",
                            "message": msg(chat=chat, message_id=88, user={"id": BOT_ID, "is_bot": True,
                                                                           "first_name": "Desk"}, text="card")}
    if data is not None:
        body["data"] = data
    return CallbackQuery.model_validate(body)


def test_button_press_decodes_the_reference() -> None:
    data = callbacks.encode(Button("Claim", "claim", 12))
    inc = translate.button(query(data, chat=GROUP, user=BORIS), "telegram:1:2")
    assert (inc.action, inc.ticket_id, inc.value, inc.alert) == ("claim", 12, None, True)
    assert (inc.chat_id, inc.user_id, inc.is_private) == ("-100777", "2002", False)


@pytest.mark.parametrize("data", ["garbage", "b0|claim|12|", "", None, "b1|", "b1|claim|notanumber|"])
def test_undecodable_press_is_stale(data: str | None) -> None:
    inc = translate.button(query(data), "telegram:1:2")
    assert inc.action == "stale" and inc.alert is True and inc.ticket_id is None


def test_press_on_an_inaccessible_message_uses_the_users_chat() -> None:
    from aiogram.types import CallbackQuery

    q = CallbackQuery.model_validate({"id": "q", "from": ANNA, "chat_instance": "c",
                                      "data": callbacks.encode(Button("5", "rate", 3, "5"))})
    inc = translate.button(q, "k")
    assert (inc.chat_id, inc.action, inc.ticket_id, inc.value, inc.is_private) == ("1001", "rate", 3, "5", True)
