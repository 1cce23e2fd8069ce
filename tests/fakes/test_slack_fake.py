"""The fake Slack driven by the real slack_sdk AsyncWebClient, and its signed requests
received by a real slack-bolt AsyncApp behind bolt's aiohttp adapter, over loopback."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack, RateLimits, render_mrkdwn
from tests.support.slack import SlackUser, client_for, serve_bolt


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    f = FakeSlack(rate_limits=False)
    await f.start()
    yield f
    await f.close()
    assert f.internal_errors == []


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return client_for(fake)


def button(text: str, value: str, action_id: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "value": value,
            "action_id": action_id}


def card(text: str, *buttons: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if buttons:
        blocks.append({"type": "actions", "block_id": "acts", "elements": list(buttons)})
    return blocks


def bolt_message(fake: FakeSlack, event: dict[str, Any]) -> Any:
    """The stored message behind a message event bolt received."""
    return fake.message(event["channel"], event["ts"])


async def error_of(coro: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await coro
    return info.value


# ---------------------------------------------------------------------- outbound
async def test_auth_test_names_the_bot_and_the_token_is_enforced(fake: FakeSlack, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert (me["team_id"], me["user_id"], me["bot_id"]) == (fake.team_id, fake.bot_user_id, fake.bot_id)
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.base_url)
    assert (await error_of(wrong.auth_test())).response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=fake.base_url)
    assert (await error_of(anonymous.chat_postMessage(channel="C1", text="x"))).response["error"] == "not_authed"
    assert [c.ok for c in fake.calls] == [True, False, False]


async def test_post_message_in_a_thread_and_update_in_place(fake: FakeSlack, client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    root = await client.chat_postMessage(channel=it.id, text="#1 VPN", blocks=card("*#1* VPN", button("Claim", "b1|claim|1|", "b0.0")))
    reply = await client.chat_postMessage(channel=it.id, text="note", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"] and root["channel"] == it.id
    [view] = it.messages()[:1]
    assert view.buttons == ["Claim"] and view.text == "#1 VPN"
    assert [m.text for m in it.messages(thread_ts=root["ts"])] == ["note"]
    # A reply to a reply lands in the same thread; an unknown thread is refused.
    nested = await client.chat_postMessage(channel=it.id, text="again", thread_ts=reply["ts"])
    assert nested["message"]["thread_ts"] == root["ts"]
    assert (await error_of(client.chat_postMessage(channel=it.id, text="x", thread_ts="1.2"))).response["error"] == "thread_not_found"
    await client.chat_update(channel=it.id, ts=root["ts"], text="#1 VPN claimed",
                             blocks=card("*#1* VPN — claimed by Boris"))
    assert view.text == "#1 VPN — claimed by Boris" and view.buttons == [] and view.edited
    assert view.history == ["#1 VPN", "#1 VPN claimed"]
    assert (await error_of(client.chat_update(channel=it.id, ts="1.1", text="x"))).response["error"] == "message_not_found"
    assert [m.text for m in view.replies] == ["note", "again"]
    await client.chat_delete(channel=it.id, ts=nested["ts"])
    assert [m.text for m in view.replies] == ["note"]
    assert (await error_of(client.chat_delete(channel=it.id, ts=nested["ts"]))).response["error"] == "message_not_found"


async def test_channel_errors_archived_missing_not_in_channel_inactive(fake: FakeSlack, client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    fake.channel("C00OTHER", "other", bot_member=False)
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    await client.chat_postMessage(channel=it.id, text="fine")
    it.archive()
    assert (await error_of(client.chat_postMessage(channel=it.id, text="x"))).response["error"] == "is_archived"
    assert (await error_of(client.chat_postMessage(channel="C404", text="x"))).response["error"] == "channel_not_found"
    assert (await error_of(client.chat_postMessage(channel="C00OTHER", text="x"))).response["error"] == "not_in_channel"
    fake.deactivate(anna.id)
    assert (await error_of(client.chat_postMessage(channel=anna.dm["id"], text="x"))).response["error"] == "account_inactive"
    empty = await error_of(client.api_call("chat.postMessage", json={"channel": "C00ITQUEUE2"}))
    assert empty.response["error"] == "channel_not_found"
    fake.channel("C00ITQUEUE2", "it-queue-2")
    empty = await error_of(client.api_call("chat.postMessage", json={"channel": "C00ITQUEUE2"}))
    assert empty.response["error"] == "no_text"


async def test_block_kit_limits_are_enforced_and_counted(fake: FakeSlack, client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    await client.chat_postMessage(channel=it.id, text="50", blocks=[section] * 50)
    cases = [
        [section] * 51,
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        card("x", button("y" * 76, "v", "a")),
        card("x", button("ok", "v" * 2001, "a")),
        card("x", button("one", "1", "same"), button("two", "2", "same")),
        [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
        [{"type": "actions", "elements": [{"type": "button", "text": {"type": "mrkdwn", "text": "md"}}]}],
        [{"type": "nonsense"}],
    ]
    for blocks in cases:
        err = await error_of(client.chat_postMessage(channel=it.id, text="t", blocks=blocks))
        assert err.response["error"] == "invalid_blocks", blocks
    long = await error_of(client.chat_postMessage(channel=it.id, text="x" * 40_001))
    assert long.response["error"] == "msg_too_long"
    await client.chat_postMessage(channel=it.id, text="x" * 40_000)
    assert len(fake.block_errors) == len(cases) + 1
    assert len(it.messages()) == 2


async def test_ephemeral_permalink_reactions_and_dm(fake: FakeSlack, client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    boris = fake.user("U0000BORIS", "Boris Petrov")
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    it.add(boris)
    posted = await client.chat_postMessage(channel=it.id, text="card")
    eph = await client.chat_postEphemeral(channel=it.id, user=boris.id, text="Already claimed &lt;sic&gt;")
    assert eph["message_ts"]
    assert [e["shown"] for e in boris.ephemerals] == ["Already claimed <sic>"]
    assert (await error_of(client.chat_postEphemeral(channel=it.id, user=anna.id, text="x"))).response["error"] == "user_not_in_channel"
    link = await client.chat_getPermalink(channel=it.id, message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C00ITQUEUE/p" + posted["ts"].replace(".", ""))
    await client.reactions_add(channel=it.id, timestamp=posted["ts"], name="eyes")
    assert (await error_of(client.reactions_add(channel=it.id, timestamp=posted["ts"], name="eyes"))).response["error"] == "already_reacted"
    assert it.messages()[0].reactions == {"eyes": [fake.bot_user_id]}
    opened = await client.conversations_open(users=anna.id)
    assert opened["channel"]["id"] == anna.channel_id == "D0000ANNA"
    again = await client.conversations_open(users=anna.id)
    assert again["already_open"] is True
    await client.chat_postMessage(channel=opened["channel"]["id"], text="hi")
    # Posting to a user id goes to the DM, as Slack does.
    await client.chat_postMessage(channel=anna.id, text="hi again")
    assert [m.text for m in anna.messages()] == ["hi", "hi again"]
    info = await client.conversations_info(channel=it.id)
    assert info["channel"]["name"] == "it-queue" and info["channel"]["is_archived"] is False


async def test_users_info_gives_locale_only_when_asked(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.user("U0000ANNA", "Anna Ivanova", locale="ru-RU", tz="Europe/Moscow", display_name="anna")
    plain = await client.users_info(user="U0000ANNA")
    assert "locale" not in plain["user"]
    full = await client.users_info(user="U0000ANNA", include_locale=True)
    user = full["user"]
    assert (user["locale"], user["tz"], user["tz_offset"]) == ("ru-RU", "Europe/Moscow", 10800)
    assert (user["real_name"], user["profile"]["display_name"]) == ("Anna Ivanova", "anna")
    assert (await error_of(client.users_info(user="U404"))).response["error"] == "user_not_found"


async def test_rate_limit_per_channel_with_retry_after_and_early_retries() -> None:
    async with FakeSlack(rate_limits=RateLimits()) as fake:
        client = client_for(fake)
        fake.add_channel("C1", "one")
        fake.add_channel("C2", "two")
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C2", text="other channel is independent")
        err = await error_of(client.chat_postMessage(channel="C1", text="2"))
        assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
        assert int(err.response.headers["Retry-After"]) == 1
        assert fake.early_retries == 0
        fake.advance(0.2)  # later than early_grace: the app had read the 429
        await error_of(client.chat_postMessage(channel="C1", text="3"))  # did not wait: early
        assert fake.early_retries == 1 and fake.too_many_requests == 2
        await client.chat_update(channel="C1", ts=fake.bot_messages("C1")[0]["ts"], text="edits are not counted")
        fake.advance(0.8)
        await client.chat_postMessage(channel="C1", text="after Retry-After")
        assert [m["text"] for m in fake.bot_messages("C1")] == ["edits are not counted", "after Retry-After"]
        fake.add_user("U1", "Someone")
        await client.chat_postMessage(channel="U1", text="to the user id")
        sneaky = await error_of(client.chat_postMessage(channel=fake.dm_id("U1"), text="same DM"))
        assert sneaky.response.status_code == 429  # one window per channel, however it is named


async def test_a_workspace_window_limits_chat_post_message_over_all_channels() -> None:
    async with FakeSlack(rate_limits=RateLimits(workspace=(2, 1.0))) as fake:
        client = client_for(fake)
        for cid in ("C1", "C2", "C3"):
            fake.add_channel(cid, cid.lower())
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C2", text="2")
        err = await error_of(client.chat_postMessage(channel="C3", text="3"))  # a third channel: workspace full
        assert err.response.status_code == 429 and int(err.response.headers["Retry-After"]) == 1
        fake.advance(0.2)
        await error_of(client.chat_postMessage(channel="C1", text="x"))  # the ban holds for every channel
        assert fake.early_retries == 1
        fake.advance(1.0)
        await client.chat_postMessage(channel="C3", text="3")
        assert [m["text"] for m in fake.bot_messages("C3")] == ["3"]


async def test_inject_429_and_rate_limits_off(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C1", "one")
    for n in range(5):  # off: no window
        await client.chat_postMessage(channel="C1", text=str(n))
    fake.inject_429(1, retry_after=7, channel="C1")
    err = await error_of(client.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "7"
    assert len(fake.bot_messages("C1")) == 5


async def test_views_open_trigger_single_use_and_expiring(fake: FakeSlack, client: AsyncWebClient) -> None:
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    modal = {"type": "modal", "callback_id": "new_ticket", "title": {"type": "plain_text", "text": "New request"},
             "submit": {"type": "plain_text", "text": "Send"}, "private_metadata": "m1",
             "blocks": [{"type": "input", "block_id": "desc", "label": {"type": "plain_text", "text": "Describe"},
                         "element": {"type": "plain_text_input", "action_id": "desc"}}]}
    trigger = fake.new_trigger(anna.id)
    opened = await client.views_open(trigger_id=trigger, view=modal)
    assert anna.modal is not None and anna.modal.id == opened["view"]["id"] and anna.modal.title == "New request"
    assert (await error_of(client.views_open(trigger_id=trigger, view=modal))).response["error"] == "expired_trigger_id"
    late = fake.new_trigger(anna.id)
    fake.advance(3.1)
    assert (await error_of(client.views_open(trigger_id=late, view=modal))).response["error"] == "expired_trigger_id"
    assert (await error_of(client.views_open(trigger_id="nope", view=modal))).response["error"] == "invalid_trigger_id"
    bad_title = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    err = await error_of(client.views_open(trigger_id=fake.new_trigger(anna.id), view=bad_title))
    assert err.response["error"] == "invalid_arguments"
    updated = await client.views_update(view_id=opened["view"]["id"], hash=opened["view"]["hash"],
                                        view={**modal, "title": {"type": "plain_text", "text": "Updated"}})
    assert anna.modal.title == "Updated"
    stale = await error_of(client.views_update(view_id=updated["view"]["id"], hash=opened["view"]["hash"], view=modal))
    assert stale.response["error"] == "hash_conflict"


async def test_views_publish_app_home(fake: FakeSlack, client: AsyncWebClient) -> None:
    boris = fake.user("U0000BORIS", "Boris Petrov")
    home = {"type": "home", "blocks": card("*My requests*\n#1 VPN — open", button("Claim", "b1|claim|1|", "b0.0"))}
    await client.views_publish(user_id=boris.id, view=home)
    assert boris.home is not None and "#1 VPN — open" in boris.home.text and boris.home.buttons == ["Claim"]
    first = boris.home.id
    await client.views_publish(user_id=boris.id, view={"type": "home", "blocks": card("nothing")})
    assert boris.home.id == first and boris.home.text == "nothing"
    err = await error_of(client.views_publish(user_id=boris.id, view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}))
    assert err.response["error"] == "invalid_arguments"


async def test_files_upload_v2_into_a_thread_and_download(fake: FakeSlack, client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    root = await client.chat_postMessage(channel=it.id, text="#1")
    photo = b"\x89PNG" + b"\0" * 5000
    done = await client.files_upload_v2(channel=it.id, thread_ts=root["ts"], filename="photo.png",
                                        content=photo, title="Photo from Telegram")
    file_id = done["file"]["id"]
    [shared] = it.messages(thread_ts=root["ts"])
    assert shared.files[0]["id"] == file_id and shared.files[0]["title"] == "Photo from Telegram"
    info = await client.files_info(file=file_id)
    assert info["file"]["size"] == len(photo) and info["file"]["mimetype"] == "image/png"
    assert it.id in info["file"]["channels"]
    url = info["file"]["url_private"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {fake.token}"}) as resp:
            assert resp.status == 200 and await resp.read() == photo
        async with http.get(url) as resp:  # no token: Slack's sign-in page, not the file
            assert resp.content_type == "text/html"
    never = await client.files_getUploadURLExternal(filename="x.txt", length=3)
    err = await error_of(client.files_completeUploadExternal(files=[{"id": never["file_id"]}], channel_id=it.id))
    assert err.response["error"] == "invalid_arguments"
    assert [c.method for c in fake.calls_of("upload")] == ["upload"]


def test_render_mrkdwn_shows_what_a_client_shows() -> None:
    shown, mentions, links = render_mrkdwn("<!channel> <@U1> <http://evil|Reset password> &lt;!here&gt; &amp;")
    assert shown == "@channel @U1 Reset password <!here> &"
    assert mentions == ["!channel", "@U1"] and links == ["http://evil"]
    assert render_mrkdwn("&lt;@U123&gt; a &amp;amp; b") == ("<@U123> a &amp; b", [], [])


# ---------------------------------------------------------------------- inbound, into a real bolt app
@pytest.fixture
async def bolt(fake: FakeSlack) -> AsyncIterator[dict[str, Any]]:
    """A minimal bolt AsyncApp on loopback that records what its listeners saw."""
    seen: dict[str, Any] = {"messages": [], "actions": [], "commands": [], "views": [], "shortcuts": [],
                            "reactions": [], "home": [], "retries": []}
    app = AsyncApp(token=fake.token, signing_secret=fake.signing_secret, client=client_for(fake))

    @app.event("message")
    async def on_message(event: dict[str, Any], request: Any, say: Any) -> None:
        seen["messages"].append(event)
        seen["retries"].append(request.headers.get("x-slack-retry-num", [None])[0])
        if event.get("channel_type") == "im" and "subtype" not in event:
            await say(text=f"got: {event['text']}", thread_ts=event.get("thread_ts"))

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        seen["reactions"].append(event)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        seen["home"].append(event)
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": card("*My requests*")})

    @app.command("/helpdesk")
    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen["commands"].append(body)
        await client.views_open(trigger_id=body["trigger_id"], view={
            "type": "modal", "callback_id": "new_ticket", "private_metadata": body["text"],
            "title": {"type": "plain_text", "text": "New request"}, "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [
                {"type": "input", "block_id": "desc", "label": {"type": "plain_text", "text": "Describe"},
                 "element": {"type": "plain_text_input", "action_id": "desc"}},
                {"type": "input", "block_id": "cat", "label": {"type": "plain_text", "text": "Category"},
                 "element": {"type": "static_select", "action_id": "cat", "options": [
                     {"text": {"type": "plain_text", "text": "Network"}, "value": "net"},
                     {"text": {"type": "plain_text", "text": "Printers"}, "value": "print"}]}},
            ]})

    @app.view("new_ticket")
    async def on_submit(ack: Any, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        seen["views"].append(view)
        if len(values["desc"]["desc"]["value"] or "") < 3:
            await ack(response_action="errors", errors={"desc": "Too short"})
            return
        await ack()

    @app.action("b0.0")
    async def on_claim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen["actions"].append(body)
        await client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"], text="Claimed")

    @app.shortcut("create_ticket")
    async def on_shortcut(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen["shortcuts"].append(body)

    runner, url = await serve_bolt(app)
    fake.request_url = url
    yield seen
    await runner.cleanup()


async def test_bolt_accepts_signed_event_and_answers_in_the_dm(fake: FakeSlack, bolt: dict[str, Any]) -> None:
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    said = await anna.says("VPN is down")
    assert said.status == 200
    reply = await anna.receives("got: VPN is down")
    assert reply.thread_ts is None
    event = bolt["messages"][0]
    assert (event["channel"], event["user"], event["channel_type"], event["ts"]) == (anna.channel_id, anna.id, "im", said.ts)
    in_thread = await anna.says("more", thread_ts=reply.ts)
    assert (await anna.receives("got: more", thread_ts=reply.ts)).thread_ts == reply.ts
    assert in_thread.message is not None and in_thread.message.raw["thread_ts"] == reply.ts


async def test_bolt_rejects_bad_signature_missing_headers_and_old_timestamp(fake: FakeSlack, bolt: dict[str, Any]) -> None:
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    assert (await anna.says("wrong", sign_mode="wrong")).status == 401
    assert (await anna.says("none", sign_mode="none")).status == 401
    assert (await anna.says("old", timestamp=int(time.time()) - 6 * 60)).status == 401
    assert (await anna.says("fresh", timestamp=int(time.time()) - 4 * 60)).status == 200
    assert [e["text"] for e in bolt["messages"]] == ["fresh"]


async def test_url_verification_and_event_retries_keep_the_event_id(fake: FakeSlack, bolt: dict[str, Any]) -> None:
    challenge = await fake.url_verification("abc123")
    assert challenge.status == 200 and challenge.response_json == {"challenge": "abc123"}
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    first = await anna.says("once")
    retries = await fake.redeliver(first.post, times=3)
    assert [r.status for r in retries] == [200, 200, 200]
    assert [r.headers["X-Slack-Retry-Num"] for r in retries] == ["1", "2", "3"]
    assert {r.payload["event_id"] for r in retries} == {first.post.event_id}
    assert bolt["retries"] == [None, "1", "2", "3"]  # bolt sees them; ignoring them is the app's job


async def test_button_press_slash_modal_errors_and_submit(fake: FakeSlack, bolt: dict[str, Any],
                                                          client: AsyncWebClient) -> None:
    it = fake.channel("C00ITQUEUE", "it-queue")
    boris = fake.user("U0000BORIS", "Boris Petrov")
    it.add(boris)
    posted = await client.chat_postMessage(channel=it.id, text="#1", blocks=card("*#1* VPN", button("Claim", "b1|claim|1|", "b0.0")))
    queue_card = await it.receives("#1 VPN")
    press = await boris.presses(queue_card, "Claim")
    assert press.status == 200
    await boris.gets_ephemeral("Claimed")
    body = bolt["actions"][0]
    action = body["actions"][0]
    assert (action["value"], action["action_id"], action["text"]["text"]) == ("b1|claim|1|", "b0.0", "Claim")
    assert body["container"] == {"type": "message", "message_ts": posted["ts"], "channel_id": it.id, "is_ephemeral": False}
    assert body["message"]["ts"] == posted["ts"] and body["channel"]["id"] == it.id
    forged = await boris.presses(queue_card, "Claim", value="b1|claim|999|")
    assert forged.status == 200 and bolt["actions"][-1]["actions"][0]["value"] == "b1|claim|999|"
    made_up = await boris.presses(queue_card, "Close", action_id="b0.0", value="garbage")
    assert made_up.status == 200 and bolt["actions"][-1]["actions"][0]["text"]["text"] == "Close"
    assert fake.late_posts == []

    anna = fake.user("U0000ANNA", "Anna Ivanova")
    cmd = await anna.slash("/helpdesk", "printer")
    assert cmd.status == 200
    modal = await anna.gets_modal("New request")
    assert modal.private_metadata == "printer" and set(modal.inputs) == {"desc", "cat"}
    refused = await anna.submits(modal, {"desc": {"desc": "no"}, "cat": {"cat": "Printers"}})
    assert refused.errors == {"desc": "Too short"} and modal.is_open and modal.errors == {"desc": "Too short"}
    done = await anna.submits(modal, {"desc": {"desc": "It jams"}, "cat": {"cat": "print"}})
    assert done.status == 200 and done.errors == {} and not modal.is_open and anna.modal is None
    state = bolt["views"][-1]["state"]["values"]
    assert state["cat"]["cat"]["selected_option"]["value"] == "print"
    assert state["desc"]["desc"] == {"type": "plain_text_input", "value": "It jams"}
    # The slash command's trigger was used by views.open; it cannot open a second modal.
    again = await error_of(client.views_open(trigger_id=cmd.trigger_id, view={
        "type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}))
    assert again.response["error"] == "expired_trigger_id"
    await anna.slash("/helpdesk", "second")
    second = await anna.gets_modal(other_than=modal)
    assert second.id != modal.id and second.private_metadata == "second"


async def test_shortcut_reaction_and_app_home(fake: FakeSlack, bolt: dict[str, Any]) -> None:
    it = fake.channel("C0GENERAL", "general")
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    boris = fake.user("U0000BORIS", "Boris Petrov")
    it.add(anna, boris)
    said = await anna.says("printer on 3rd floor is broken", channel=it)
    assert bolt["messages"][-1]["channel_type"] == "channel"
    short = await boris.shortcut(said.message, "create_ticket")
    assert short.status == 200
    body = bolt["shortcuts"][0]
    assert (body["callback_id"], body["message"]["ts"], body["message"]["user"], body["channel"]["id"]) == (
        "create_ticket", said.ts, anna.id, it.id)
    assert body["trigger_id"] == short.trigger_id
    react = await boris.reacts(said.message, "ticket")
    assert react.status == 200
    assert bolt["reactions"][0]["item"] == {"type": "message", "channel": it.id, "ts": said.ts}
    assert bolt["reactions"][0]["item_user"] == anna.id
    opened = await boris.opens_home()
    assert opened.status == 200
    assert "My requests" in (await boris.sees_home("My requests")).text


async def test_wait_for_wakes_on_calls_without_sleeping(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C1", "one")
    waiter = asyncio.create_task(fake.wait_call("chat.postMessage", lambda c: c.params.get("text") == "x"))
    await client.chat_postMessage(channel="C1", text="x")
    [call] = await asyncio.wait_for(waiter, 5)
    assert call.ok and call.channel == "C1"
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda: False, timeout=0.05)


async def test_dsl_user_can_not_talk_in_a_channel_they_are_not_in(fake: FakeSlack) -> None:
    it = fake.channel("C1", "one")
    anna: SlackUser = fake.user("U0000ANNA", "Anna Ivanova")
    fake.request_url = "http://127.0.0.1:9/unused"
    with pytest.raises(AssertionError):
        await anna.says("x", channel=it)
    assert json.dumps(fake.posts, default=str) == "[]"


async def test_socket_mode_handler_gets_envelopes_and_acks(fake: FakeSlack) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    seen: list[dict[str, Any]] = []
    app = AsyncApp(signing_secret=fake.signing_secret, client=client_for(fake))

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        await say(text=f"got: {event['text']}")

    @app.view("form")
    async def on_submit(ack: Any) -> None:
        await ack(response_action="errors", errors={"desc": "Too short"})

    assert (await error_of(client_for(fake).apps_connections_open(app_token=fake.token))).response["error"] == "not_allowed_token_type"
    handler = AsyncSocketModeHandler(app, app_token=fake.app_token)
    await handler.connect_async()
    try:
        await fake.wait_socket()
        anna = fake.user("U0000ANNA", "Anna Ivanova")
        said = await anna.says("over the socket")
        assert said.post.transport == "socket" and said.status == 200
        await anna.receives("got: over the socket")
        retry = await fake.redeliver(said.post)
        assert retry[0].status == 200 and len(seen) == 2  # bolt acks retries too; dedup is the app's job
        opened = await client_for(fake).views_open(trigger_id=fake.new_trigger(anna.id), view={
            "type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": "Form"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [{"type": "input", "block_id": "desc", "label": {"type": "plain_text", "text": "Describe"},
                        "element": {"type": "plain_text_input", "action_id": "desc"}}]})
        modal = await anna.gets_modal("Form")
        assert modal.id == opened["view"]["id"]
        sub = await anna.submits(modal, {"desc": {"desc": "x"}})
        assert sub.errors == {"desc": "Too short"} and modal.is_open
        # Slack asks the client to reconnect: it opens a new connection and keeps working.
        await fake.disconnect_sockets()
        await fake.wait_for(lambda: fake.socket_connections == 2 and fake.socket_connected)
        assert (await anna.says("after reconnect")).status == 200
        await anna.receives("got: after reconnect")
    finally:
        await handler.close_async()


async def test_respond_through_response_url_ephemeral_in_channel_and_replace(fake: FakeSlack) -> None:
    app = AsyncApp(signing_secret=fake.signing_secret, client=client_for(fake))

    @app.command("/helpdesk")
    async def on_command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack()
        if command["text"] == "public":
            await respond(text="for everyone", response_type="in_channel")
        else:
            await respond(text="only *you* see this")

    @app.action("b0.0")
    async def on_press(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="claimed", replace_original=True)

    runner, fake.request_url = await serve_bolt(app)
    try:
        it = fake.channel("C00ITQUEUE", "it-queue")
        boris = fake.user("U0000BORIS", "Boris Petrov")
        it.add(boris)
        await boris.slash("/helpdesk", "queue", channel=it)
        assert (await boris.gets_ephemeral("only you see this"))["channel"] == it.id
        await boris.slash("/helpdesk", "public", channel=it)
        assert (await it.receives("for everyone")).text == "for everyone"
        posted = await client_for(fake).chat_postMessage(channel=it.id, text="card", blocks=card("card", button("Claim", "v", "b0.0")))
        await boris.presses(it.find("card"), "Claim")
        await fake.wait_for(lambda: fake.message(it.id, posted["ts"])["text"] == "claimed")
        assert it.find("claimed").buttons == []
        assert [c.ok for c in fake.calls_of("response_url")] == [True, True, True]
    finally:
        await runner.cleanup()


async def test_no_event_from_a_channel_the_app_is_not_in_and_file_shares(fake: FakeSlack, bolt: dict[str, Any]) -> None:
    elsewhere = fake.channel("C0RANDOM", "random", bot_member=False)
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    elsewhere.add(anna)
    said = await anna.says("hello", channel=elsewhere)
    assert not said.delivered and (await anna.reacts(said.message, "ticket")).post is None
    shared = await anna.says("see photo", files=[("screen.png", b"\x89PNG-bytes")])
    assert shared.status == 200
    event = bolt["messages"][-1]
    assert event["subtype"] == "file_share" and event["files"][0]["name"] == "screen.png"
    async with aiohttp.ClientSession() as http:
        async with http.get(event["files"][0]["url_private_download"],
                            headers={"Authorization": f"Bearer {fake.token}"}) as resp:
            assert await resp.read() == b"\x89PNG-bytes"
    info = await client_for(fake).files_info(file=event["files"][0]["id"])
    assert info["file"]["user"] == anna.id and info["file"]["size"] == len(b"\x89PNG-bytes")
    assert len(bolt["messages"]) == 1


async def test_echoed_bot_messages_are_ignored_by_bolt() -> None:
    async with FakeSlack(rate_limits=False, echo_bot_messages=True) as fake:
        seen: list[dict[str, Any]] = []
        app = AsyncApp(signing_secret=fake.signing_secret, client=client_for(fake))

        @app.event("message")
        async def on_message(event: dict[str, Any], say: Any) -> None:
            seen.append(event)
            await say(text="echo?")

        runner, fake.request_url = await serve_bolt(app)
        try:
            anna = fake.user("U0000ANNA", "Anna Ivanova")
            await anna.says("hi")
            await anna.receives("echo?")
            await fake.wait_for(lambda: len(fake.posts) == 2 and all(p.status for p in fake.posts))
            echo = fake.posts[1].payload["event"]
            assert echo["bot_id"] == fake.bot_id and echo["user"] == fake.bot_user_id
            assert [e["text"] for e in seen] == ["hi"]  # bolt dropped its own message
        finally:
            await runner.cleanup()


async def test_rate_limit_tiers_and_injected_429_per_method() -> None:
    async with FakeSlack(rate_limits=RateLimits(tiers={"chat.update": (2, 60.0)})) as fake:
        client = client_for(fake)
        fake.add_channel("C1", "one")
        ts = (await client.chat_postMessage(channel="C1", text="card"))["ts"]
        await client.chat_update(channel="C1", ts=ts, text="1")
        await client.chat_update(channel="C1", ts=ts, text="2")
        err = await error_of(client.chat_update(channel="C1", ts=ts, text="3"))
        assert err.response.status_code == 429 and int(err.response.headers["Retry-After"]) >= 59
        fake.inject_429(1, retry_after=3, method="views.publish")
        fake.add_user("U1", "Someone")
        err = await error_of(client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))
        assert err.response["error"] == "ratelimited" and err.response.headers["Retry-After"] == "3"
        fake.advance(3)
        await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert fake.too_many_requests == 2 and fake.early_retries == 0


async def test_command_ack_text_is_an_ephemeral_and_bad_view_acks_are_caught(fake: FakeSlack) -> None:
    app = AsyncApp(signing_secret=fake.signing_secret, client=client_for(fake))

    @app.command("/helpdesk")
    async def on_command(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        if command["text"] == "help":
            await ack(text="Usage: /helpdesk [text]")
            return
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view={
            "type": "modal", "callback_id": "f", "title": {"type": "plain_text", "text": "F"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [{"type": "input", "block_id": "desc", "label": {"type": "plain_text", "text": "D"},
                        "element": {"type": "plain_text_input", "action_id": "desc"}}]})

    @app.view("f")
    async def on_submit(ack: Any) -> None:
        await ack(response_action="errors", errors={"description": "wrong block id"})

    @app.action("confirm")
    async def on_confirm(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        await ack()
        assert body["container"]["is_ephemeral"] is True and "message" not in body
        await respond(text="Done", replace_original=True)

    runner, fake.request_url = await serve_bolt(app)
    try:
        anna = fake.user("U0000ANNA", "Anna Ivanova")
        await anna.slash("/helpdesk", "help")
        assert (await anna.gets_ephemeral("Usage"))["channel"] == anna.channel_id
        await anna.slash("/helpdesk")
        modal = await anna.gets_modal()
        sub = await anna.submits(modal, {"desc": {"desc": "x"}})
        assert sub.errors == {"description": "wrong block id"} and modal.errors == {}
        assert [reason for _, reason in fake.bad_acks] == ["errors for blocks that are not inputs: ['description']"]
        await client_for(fake).chat_postEphemeral(channel=anna.channel_id, user=anna.id, text="Sure?",
                                                  blocks=card("Sure?", button("Yes", "y", "confirm")))
        ask = await anna.gets_ephemeral("Sure?")
        assert (await anna.presses(ask, "Yes")).status == 200
        await fake.wait_for(lambda: any(e["shown"] == "Done" for e in anna.ephemerals))
        assert [e["shown"] for e in anna.ephemerals] == ["Usage: /helpdesk [text]", "Done"]
    finally:
        await runner.cleanup()


async def test_typed_text_arrives_escaped_and_escaped_bot_text_shows_literally(
        fake: FakeSlack, bolt: dict[str, Any], client: AsyncWebClient) -> None:
    anna = fake.user("U0000ANNA", "Anna Ivanova")
    hostile = "<!channel> <@U123> <http://evil|Reset password> & co"
    await anna.says(hostile)
    event = bolt["messages"][-1]
    assert event["text"] == "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|Reset password&gt; &amp; co"
    assert event["blocks"][0]["elements"][0]["elements"][0]["text"] == hostile
    await anna.says("<@U0000BOT> help", raw=True)
    assert bolt["messages"][-1]["text"] == "<@U0000BOT> help"
    edited = await anna.edits(bolt_message(fake, bolt["messages"][-1]), "a & b")
    change = bolt["messages"][-1]
    assert edited.status == 200 and change["subtype"] == "message_changed"
    assert (change["message"]["text"], change["previous_message"]["text"]) == ("a &amp; b", "<@U0000BOT> help")
    it = fake.channel("C00ITQUEUE", "it-queue")
    careless = await client.chat_postMessage(channel=it.id, text=hostile)
    careful = await client.chat_postMessage(channel=it.id, text=event["text"],
                                            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": event["text"]}}])
    bad, good = it.messages()
    assert bad.ts == careless["ts"] and bad.mentions == ["!channel", "@U123"] and bad.links == ["http://evil"]
    assert good.ts == careful["ts"] and good.text == hostile and good.mentions == [] and good.links == []


async def test_retired_files_upload_is_refused(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C1", "one")
    err = await error_of(client.api_call("files.upload", files={"file": io.BytesIO(b"bytes")}, data={"channels": "C1"}))
    assert err.response["error"] == "method_deprecated" and fake.calls[-1].params["channels"] == "C1"
    assert fake.bot_messages("C1") == []


async def test_failed_event_delivery_is_retried_with_the_same_event_id() -> None:
    from aiohttp import web

    statuses = [500, 500, 200]
    got: list[dict[str, Any]] = []

    async def flaky(request: web.Request) -> web.Response:
        got.append({"headers": dict(request.headers), "body": await request.json()})
        return web.Response(status=statuses[len(got) - 1])

    server = web.Application()
    server.router.add_post("/slack/events", flaky)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with FakeSlack(rate_limits=False, event_retries=3) as fake:
            fake.request_url = f"http://127.0.0.1:{port}/slack/events"
            last = await fake.user("U0000ANNA", "Anna Ivanova").says("hi")
            assert last.status == 200 and len(fake.posts) == 3
            assert [g["headers"].get("X-Slack-Retry-Num") for g in got] == [None, "1", "2"]
            assert [g["headers"].get("X-Slack-Retry-Reason") for g in got] == [None, "http_error", "http_error"]
            assert len({g["body"]["event_id"] for g in got}) == 1
            await client_for(fake).chat_postMessage(channel="#" + fake.channel("C1", "one").name, text="by name")
            assert fake.bot_messages("C1")[0]["text"] == "by name"
    finally:
        await runner.cleanup()


async def test_join_members_lookup_by_email_and_reaction_removal(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.channel("C0PUBLIC", "public", bot_member=False)
    fake.channel("G0SECRET", "secret", bot_member=False)
    boris = fake.user("U0000BORIS", "Boris Petrov", email="boris@example.org")
    assert (await error_of(client.chat_postMessage(channel="C0PUBLIC", text="x"))).response["error"] == "not_in_channel"
    joined = await client.conversations_join(channel="C0PUBLIC")
    assert "warning" not in joined.data and (await client.conversations_join(channel="C0PUBLIC"))["warning"] == "already_in_channel"
    assert (await error_of(client.conversations_join(channel="G0SECRET"))).response["error"] == "method_not_supported_for_channel_type"
    posted = await client.chat_postMessage(channel="C0PUBLIC", text="now I can")
    assert (await client.conversations_members(channel="C0PUBLIC"))["members"] == [fake.bot_user_id]
    assert (await client.users_lookupByEmail(email="Boris@example.org"))["user"]["id"] == boris.id
    assert (await error_of(client.users_lookupByEmail(email="nobody@example.org"))).response["error"] == "users_not_found"
    await client.reactions_add(channel="C0PUBLIC", timestamp=posted["ts"], name="ticket")
    await client.reactions_remove(channel="C0PUBLIC", timestamp=posted["ts"], name="ticket")
    assert fake.message("C0PUBLIC", posted["ts"])["reactions"] == []
    assert (await error_of(client.reactions_remove(channel="C0PUBLIC", timestamp=posted["ts"], name="ticket"))).response["error"] == "no_reaction"
