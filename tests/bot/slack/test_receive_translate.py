"""Slack payloads → Incoming: which requests concern the desk and what each one means."""

from __future__ import annotations

from typing import Any

import pytest
from bot.config import ConfigError

from bot.slack import actions, translate
from handlers.events import Attachment, Button, Origin
from handlers.forms import FormRequest, read_request
from tests.support.scenarios import make_config

KEY = "slack:T1:Ev1"


def dm(**over: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": "D0ANNA", "channel_type": "im", "user": "U0000ANNA",
             "text": "VPN is down", "ts": "1700000000.000100"}
    event.update(over)
    return event


def test_a_dm_is_a_private_text_with_its_ts() -> None:
    inc = translate.message(dm(), KEY, locale="ru", display_name="Anna")
    assert inc is not None
    assert (inc.platform, inc.chat_id, inc.user_id, inc.event_key) == ("slack", "D0ANNA", "U0000ANNA", KEY)
    assert inc.text == "VPN is down" and inc.is_private and inc.thread_id is None
    assert inc.message_id == "1700000000.000100" and inc.locale == "ru" and inc.display_name == "Anna"
    assert inc.edit_of is None and inc.attachments == ()


def test_a_thread_message_in_a_team_channel_names_its_thread() -> None:
    event = {"type": "message", "channel": "C0IT", "channel_type": "channel", "user": "U000BORIS",
             "text": "try again", "ts": "1700000001.000200", "thread_ts": "1700000000.000100"}
    inc = translate.message(event, KEY)
    assert inc is not None and not inc.is_private
    assert inc.thread_id == "1700000000.000100" and inc.chat_id == "C0IT"


@pytest.mark.parametrize("event", [
    {"type": "message", "channel": "C0IT", "channel_type": "channel", "user": "U1", "text": "chatter", "ts": "1.1"},
    # a thread's root itself (thread_ts == ts) is not inside a thread
    {"type": "message", "channel": "C0IT", "channel_type": "channel", "user": "U1", "text": "x", "ts": "1.1",
     "thread_ts": "1.1"},
    dm(bot_id="B1"), dm(subtype="bot_message"), dm(subtype="channel_join"), dm(subtype="message_deleted"),
    dm(user=None),
], ids=["chatter", "root", "bot_id", "bot_message", "join", "deleted", "no-user"])
def test_what_does_not_concern_the_desk_is_none(event: dict[str, Any]) -> None:
    assert translate.message(event, KEY) is None


def test_file_share_and_thread_broadcast_are_taken() -> None:
    files = [{"id": "F1", "name": "screen.png", "mimetype": "image/png", "size": 1234},
             {"id": "F2", "mode": "tombstone"}]
    inc = translate.message(dm(subtype="file_share", files=files, text=""), KEY)
    assert inc is not None
    assert inc.attachments == (Attachment(name="screen.png", mime_type="image/png", size=1234, file_id="F1",
                                          kind="file", platform="slack"),)
    assert translate.message(dm(subtype="thread_broadcast", thread_ts="1.0"), KEY) is not None


def test_message_changed_is_an_edit_of_the_original_ts() -> None:
    event = {"type": "message", "subtype": "message_changed", "channel": "D0ANNA", "channel_type": "im",
             "message": {"type": "message", "user": "U0000ANNA", "text": "VPN is down since 9",
                         "ts": "1700000000.000100", "edited": {"user": "U0000ANNA", "ts": "1700000050.0"}},
             "previous_message": {"text": "VPN is down", "ts": "1700000000.000100"}}
    inc = translate.message(event, KEY)
    assert inc is not None
    assert inc.edit_of == "1700000000.000100" and inc.text == "VPN is down since 9" and inc.user_id == "U0000ANNA"
    bots_edit = dict(event, message={**event["message"], "bot_id": "B1"})
    assert translate.message(bots_edit, KEY) is None
    unfurled = dict(event, previous_message={"text": "VPN is down since 9", "ts": "1700000000.000100"})
    assert translate.message(unfurled, KEY) is None  # the text did not change: not an edit


def press(value: str | None, channel: str = "C0IT") -> dict[str, Any]:
    return {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U000BORIS"},
            "channel": {"id": channel}, "container": {"type": "message", "message_ts": "17.5", "channel_id": channel},
            "trigger_id": "tr1", "actions": [{"action_id": "b1.1", "value": value, "action_ts": "1700000099.1"}]}


def test_a_press_decodes_its_value_and_asks_for_an_alert() -> None:
    body = press(actions.encode(Button("Claim", "claim", 12, None)))
    key = translate.press_key(body)
    assert key == "slack:T1:action:1700000099.1"
    inc = translate.button(body, key)
    assert (inc.action, inc.ticket_id, inc.alert, inc.is_private) == ("claim", 12, True, False)
    assert inc.chat_id == "C0IT" and inc.user_id == "U000BORIS" and inc.message_id == "17.5"
    assert translate.button(press(actions.encode(Button("x", "cat", None, "network")), "D1"), key).value == "network"


@pytest.mark.parametrize("value", [None, "", "garbage", "b0|claim|12|", "b1|claim|x|",
                                   actions.encode(Button("f", "file_message", None, "forged text"))])
def test_unreadable_or_gesture_only_values_are_stale(value: str | None) -> None:
    inc = translate.button(press(value), KEY)
    assert inc.action == "stale" and inc.ticket_id is None and inc.alert


@pytest.mark.parametrize(("typed", "engine"), [
    ("", "/new"), ("queue", "/queue"), ("take 12", "/take 12"), ("TAKE  12 ", "/take 12"), ("my", "/my"),
    ("printer is jammed", "/new printer is jammed"), ("/take 3", "/take 3"),
])
def test_helpdesk_subcommands_become_the_engine_commands(typed: str, engine: str) -> None:
    assert translate.command_text(typed) == engine


def test_a_slash_command_keeps_where_it_was_typed() -> None:
    body = {"team_id": "T1", "user_id": "U0000ANNA", "channel_id": "D0ANNA", "channel_name": "directmessage",
            "text": "printer", "trigger_id": "tr9"}
    key = translate.command_key(translate.team_of(body), body["trigger_id"])
    inc = translate.command(body, key)
    assert key == "slack:T1:cmd:tr9" and inc.text == "/new printer" and inc.is_private and inc.chat_id == "D0ANNA"
    assert not translate.command(dict(body, channel_id="C0IT", channel_name="it"), key).is_private


def test_a_filed_message_is_the_authors_request_in_their_dm() -> None:
    inc = translate.file_message(author="U0000ANNA", dm_channel="D0ANNA", text="printer on 3 is jammed", key=KEY)
    assert (inc.action, inc.value, inc.user_id, inc.chat_id, inc.is_private) == (
        "file_message", "printer on 3 is jammed", "U0000ANNA", "D0ANNA", True)


def test_a_filed_message_carries_where_it_was_and_a_modal_its_choices() -> None:
    origin = Origin(chat_id="C0GENERAL", message_id="1700000000.000100", locale="ru")
    inc = translate.file_message(author="U0000ANNA", dm_channel="D0ANNA", text="x", key=KEY, origin=origin)
    assert inc.origin == origin
    request = FormRequest(category="business_apps", priority=None, fields={"system": "CRM"})
    filed = translate.filed_request(user="U0000ANNA", dm_channel="D0ANNA", text="CRM is empty", request=request,
                                    key=KEY)
    assert (filed.action, filed.text, read_request(filed.value)) == ("file_request", "CRM is empty", request)


@pytest.mark.parametrize(("slack", "ours"), [("ru-RU", "ru"), ("en-US", "en"), ("en_GB", "en"), ("de-DE", None),
                                             (None, None), ("", None)])
def test_locale_from_users_info(slack: str | None, ours: str | None) -> None:
    assert translate.locale_of(slack) == ours


@pytest.mark.parametrize(("user", "zone"), [
    ({"tz": "America/New_York"}, "America/New_York"), ({"tz": "Mars/Olympus"}, None), ({"tz": ""}, None),
    ({"tz": None}, None), ({}, None), (None, None), ({"tz": "../../etc/passwd"}, None),
])
def test_time_zone_from_users_info(user: dict[str, object] | None, zone: str | None) -> None:
    assert translate.timezone_of(user) == zone


def test_name_prefers_the_display_name() -> None:
    assert translate.name_of({"name": "anna", "profile": {"display_name": "", "real_name": "Anna I"}}) == "Anna I"
    assert translate.name_of({"name": "anna", "profile": {"display_name": "annie"}}) == "annie"
    assert translate.name_of(None) is None


def test_team_of_events_and_interactivity() -> None:
    assert translate.team_of({"team_id": "T1"}) == "T1"
    assert translate.team_of({"team": {"id": "T2"}}) == "T2"
    assert translate.event_key("T1", "Ev9") == "slack:T1:Ev9"


# --- config ---------------------------------------------------------------------------------

def slack(**section: Any) -> Any:
    return make_config(lambda data: data.__setitem__("slack", section)).slack


def test_slack_config_defaults_and_reaction_name() -> None:
    assert slack().ticket_reaction == "ticket" and not slack().enabled
    assert slack(bot_token="xoxb-1", signing_secret="s", ticket_reaction=":bug:").ticket_reaction == "bug"


@pytest.mark.parametrize(("section", "says"), [
    ({"bot_token": "xoxp-user-token", "signing_secret": "s"}, "xoxb-"),
    ({"bot_token": "xoxb-1", "signing_secret": "s", "app_token": "xoxb-2"}, "xapp-"),
    ({"bot_token": "xoxb-1"}, "signing_secret"),
    ({"bot_token": "xoxb-1", "signing_secret": "s", "api_base": "ftp://x"}, "http"),
    ({"bot_token": "xoxb-1", "signing_secret": "s", "ticket_reaction": "Big Ticket"}, "emoji name"),
])
def test_slack_config_mistakes_are_reported(section: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        slack(**section)
    assert says in str(err.value)
    assert "xoxp-user-token" not in str(err.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    assert slack(bot_token="xoxb-1", app_token="xapp-1").enabled
