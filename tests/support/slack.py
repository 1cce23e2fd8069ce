"""Story DSL over the fake Slack: tests read as people acting in Slack.

    fake = FakeSlack(rate_limits=False)
    fake.request_url = f"http://127.0.0.1:{port}/slack/events"
    anna = fake.user("U0000ANNA", "Anna Ivanova", locale="ru-RU", tz="Europe/Moscow")
    boris = fake.user("U0000BORIS", "Boris Petrov")
    it = fake.channel("C00ITQUEUE", "it-queue", members=[boris.id])
    await anna.says("VPN не работает")                    # a DM to the app (message.im)
    reply = await anna.receives("#1")                      # the bot's next message in anna's DM
    card = await it.receives("VPN")                        # the queue card
    press = await boris.presses(card, "Claim")             # finds the Block Kit button by its text
    await boris.says("try again", channel=it, thread_ts=card.ts)
    await anna.slash("/helpdesk", "printer")
    modal = await anna.gets_modal()
    sub = await anna.submits(modal, {"desc": {"desc": "It jams"}})
    assert sub.errors == {}
    await anna.selects(modal, "category", "printers", typed={"desc": {"desc": "It jams"}})
    await boris.shortcut(msg, "create_ticket")
    await boris.reacts(msg, "ticket")

Every action stores what Slack would store (the user's message, the reaction) and POSTs
the signed request Slack would send to ``fake.request_url``; the returned ``Action``
holds the HTTP answer (``.post``). The bot's messages are read back as ``SlackMessage``
views (current text after edits, Block Kit flattened to what a client shows, buttons).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Union

from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack, InboundPost, render_mrkdwn

__all__ = [
    "Action",
    "FakeSlack",
    "SlackChannel",
    "SlackMessage",
    "SlackUser",
    "SlackView",
    "WAIT",
    "blocks_text",
    "buttons_in",
    "client_for",
    "escape",
    "serve_bolt",
    "slack_section",
]

MessageRef = Union["SlackMessage", dict[str, Any]]

WAIT = 20.0  # seconds a story step may take before it fails (generous: CI machines are busy)


def client_for(fake: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    """A real slack_sdk client talking to the fake."""
    return AsyncWebClient(token=fake.token, base_url=fake.base_url, **kwargs)


# ---------------------------------------------------------------------- rendering
def _render(obj: dict[str, Any] | None, fake: FakeSlack) -> str:
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return render_mrkdwn(text, fake.users, fake.channels)[0]
    return text


def _rich_text(elements: list[dict[str, Any]]) -> str:
    out = []
    for el in elements:
        if "elements" in el:
            out.append(_rich_text(el["elements"]))
        elif el.get("type") == "text":
            out.append(el.get("text", ""))
        elif el.get("type") == "link":
            out.append(el.get("text") or el.get("url", ""))
        elif el.get("type") == "user":
            out.append("@" + el.get("user_id", ""))
    return "".join(out)


def blocks_text(blocks: list[dict[str, Any]], fake: FakeSlack) -> str:
    """Block Kit as the text a client shows, one line per block (buttons not included)."""
    lines: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "section":
            if b.get("text"):
                lines.append(_render(b["text"], fake))
            for f in b.get("fields") or []:
                lines.append(_render(f, fake))
        elif kind == "header":
            lines.append(_render(b.get("text"), fake))
        elif kind == "context":
            lines.append(" ".join(_render(el, fake) if "text" in el else el.get("alt_text", "")
                                  for el in b.get("elements", [])))
        elif kind == "rich_text":
            lines.append(_rich_text(b.get("elements", [])))
        elif kind == "input":
            lines.append(_render(b.get("label"), fake))
        elif kind == "image":
            lines.append(str(b.get("alt_text", "")))
        elif kind == "markdown":
            lines.append(str(b.get("text", "")))
    return "\n".join(line for line in lines if line)


def buttons_in(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every button in the blocks as (block, element), in order."""
    out = []
    for b in blocks:
        elements = b.get("elements", []) if b.get("type") == "actions" else []
        if b.get("type") == "section" and b.get("accessory"):
            elements = [b["accessory"]]
        for el in elements:
            if el.get("type") == "button":
                out.append((b, el))
    return out


@dataclass
class SlackMessage:
    """A live view of one message in the fake (the bot's, usually)."""

    fake: FakeSlack
    channel: str
    ts: str

    @property
    def raw(self) -> dict[str, Any]:
        msg = self.fake.message(self.channel, self.ts)
        assert msg is not None, f"message {self.ts} not in channel {self.channel}"
        return msg

    @property
    def fallback(self) -> str:
        """The ``text`` field as sent (the notification text when there are blocks)."""
        return str(self.raw.get("text", ""))

    @property
    def text(self) -> str:
        """What a client shows: the blocks flattened, or the mrkdwn text rendered."""
        blocks = self.raw.get("blocks")
        if blocks:
            return blocks_text(blocks, self.fake)
        if not self.raw.get("_mrkdwn", True):
            return self.fallback
        return render_mrkdwn(self.fallback, self.fake.users, self.fake.channels)[0]

    @property
    def mentions(self) -> list[str]:
        """Mentions a client would fire (``!channel``, ``@U…``) in the text and blocks."""
        return self._specials()[0]

    @property
    def links(self) -> list[str]:
        return self._specials()[1]

    def _specials(self) -> tuple[list[str], list[str]]:
        mentions: list[str] = []
        links: list[str] = []
        sources = [self.fallback] + [o.get("text", "") for o in _text_objects(self.raw.get("blocks") or [])
                                     if o.get("type") == "mrkdwn"]
        for s in sources:
            _, m, link = render_mrkdwn(s)
            mentions += m
            links += link
        return mentions, links

    @property
    def history(self) -> list[str]:
        return list(self.raw.get("_history") or [self.fallback])

    @property
    def edited(self) -> bool:
        return "edited" in self.raw

    @property
    def thread_ts(self) -> str | None:
        return self.raw.get("thread_ts")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.raw.get("blocks") or [])

    @property
    def buttons(self) -> list[str]:
        return [el["text"]["text"] for _, el in buttons_in(self.blocks)]

    def button(self, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
        found = [(b, el) for b, el in buttons_in(self.blocks) if el["text"]["text"] == label]
        assert found, f"no button {label!r} on {self!r}"
        return found[0]

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.raw.get("files") or [])

    @property
    def replies(self) -> list[SlackMessage]:
        """The bot's replies in this message's thread, oldest first."""
        return [SlackMessage(self.fake, self.channel, m["ts"]) for m in self.fake.bot_messages(self.channel, self.ts)]

    @property
    def deleted(self) -> bool:
        return bool(self.raw.get("_deleted"))

    @property
    def reactions(self) -> dict[str, list[str]]:
        return {r["name"]: list(r["users"]) for r in self.raw.get("reactions", [])}

    def __repr__(self) -> str:
        return f"SlackMessage({self.channel} {self.ts} {self.text[:60]!r} buttons={self.buttons})"


def _text_objects(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in blocks:
        for key in ("text", "label"):
            if isinstance(b.get(key), dict):
                out.append(b[key])
        out += [f for f in b.get("fields") or [] if isinstance(f, dict)]
        if b.get("type") == "context":
            out += [el for el in b.get("elements", []) if "text" in el]
    return out


@dataclass
class SlackView:
    """A live view of a modal or App Home view."""

    fake: FakeSlack
    id: str

    @property
    def raw(self) -> dict[str, Any]:
        return self.fake.views[self.id]

    @property
    def title(self) -> str:
        return str((self.raw.get("title") or {}).get("text", ""))

    @property
    def text(self) -> str:
        return blocks_text(self.raw.get("blocks", []), self.fake)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.raw.get("blocks", []))

    @property
    def buttons(self) -> list[str]:
        return [el["text"]["text"] for _, el in buttons_in(self.blocks)]

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """block_id -> the input block (label, element with action_id, options...)."""
        return {b["block_id"]: b for b in self.blocks if b.get("type") == "input" and "block_id" in b}

    @property
    def private_metadata(self) -> str:
        return str(self.raw.get("private_metadata", ""))

    @property
    def callback_id(self) -> str:
        return str(self.raw.get("callback_id", ""))

    @property
    def errors(self) -> dict[str, str]:
        """The field errors of the last ``response_action: errors`` ack."""
        return dict(self.raw.get("_errors") or {})

    @property
    def is_open(self) -> bool:
        return self.id in self.fake.modal_stack.get(self.raw["_user"], [])

    def __repr__(self) -> str:
        return f"SlackView({self.id} {self.raw.get('type')} {self.title!r} {self.text[:60]!r})"


@dataclass
class Action:
    """Something a person did, and Slack's POST of it to the app."""

    post: InboundPost | None  # None: Slack sends the app nothing (it is not in the channel)
    message: SlackMessage | None = None  # the user's message, for says()
    trigger_id: str | None = None

    @property
    def delivered(self) -> bool:
        return self.post is not None

    @property
    def status(self) -> int | None:
        return None if self.post is None else self.post.status

    @property
    def ack(self) -> Any:
        return None if self.post is None else self.post.response_json

    @property
    def errors(self) -> dict[str, str]:
        ack = self.ack
        if isinstance(ack, dict) and ack.get("response_action") == "errors":
            return dict(ack.get("errors") or {})
        return {}

    @property
    def ts(self) -> str:
        assert self.message is not None
        return self.message.ts


class _Reading:
    """Reading the bot's messages in one channel."""

    fake: FakeSlack
    channel_id: str
    _seen: dict[str | None, float]

    def messages(self, thread_ts: str | None = None) -> list[SlackMessage]:
        """The bot's messages here (the replies in thread ``thread_ts`` when given)."""
        return [SlackMessage(self.fake, self.channel_id, m["ts"])
                for m in self.fake.bot_messages(self.channel_id, thread_ts)]

    def last(self, thread_ts: str | None = None) -> SlackMessage | None:
        found = self.messages(thread_ts)
        return found[-1] if found else None

    def find(self, contains: str, thread_ts: str | None = None) -> SlackMessage | None:
        for m in reversed(self.messages(thread_ts)):
            if contains in m.text or contains in m.fallback:
                return m
        return None

    async def receives(self, contains: str | None = None, *, thread_ts: str | None = None,
                       timeout: float = WAIT) -> SlackMessage:
        """Wait for the next bot message here (after the last one received through this
        helper, per thread) that shows ``contains``."""
        def check() -> SlackMessage | None:
            for m in self.messages(thread_ts):
                if float(m.ts) > self._seen.get(thread_ts, 0.0) and (
                        contains is None or contains in m.text or contains in m.fallback):
                    return m
            return None

        try:
            found: SlackMessage = await self.fake.wait_for(check, timeout)
        except TimeoutError:
            texts = [m.text[:80] for m in self.messages(thread_ts)]
            raise AssertionError(f"no bot message showing {contains!r} in {self.channel_id}"
                                 f"{f' thread {thread_ts}' if thread_ts else ''}; bot messages: {texts}") from None
        self._seen[thread_ts] = float(found.ts)
        return found

    async def sees(self, contains: str, *, thread_ts: str | None = None, timeout: float = WAIT) -> SlackMessage:
        """Wait until some bot message here (new or edited) shows ``contains``."""
        try:
            found: SlackMessage = await self.fake.wait_for(lambda: self.find(contains, thread_ts), timeout)
        except TimeoutError:
            texts = [m.text[:80] for m in self.messages(thread_ts)]
            raise AssertionError(f"nothing shows {contains!r} in {self.channel_id}: {texts}") from None
        return found


class SlackChannel(_Reading):
    """A channel the app is in (a team's queue channel, usually)."""

    def __init__(self, fake: FakeSlack, channel: dict[str, Any]) -> None:
        self.fake = fake
        self.channel = channel
        self.channel_id = channel["id"]
        self._seen = {}

    @property
    def id(self) -> str:
        return self.channel_id

    @property
    def name(self) -> str:
        return str(self.channel.get("name", ""))

    def add(self, *people: SlackUser) -> None:
        for p in people:
            self.fake.join(self.channel_id, p.id)

    def archive(self) -> None:
        self.fake.archive(self.channel_id)

    def __repr__(self) -> str:
        return f"SlackChannel({self.channel_id}, {self.name!r})"


class SlackUser(_Reading):
    """A person in the workspace; reading methods read their DM with the app."""

    def __init__(self, fake: FakeSlack, user: dict[str, Any]) -> None:
        self.fake = fake
        self.user = user
        self.id: str = user["id"]
        self.channel_id = fake.dm_id(self.id)
        self._seen = {}

    def __repr__(self) -> str:
        return f"SlackUser({self.id}, {self.user['real_name']!r})"

    @property
    def dm(self) -> dict[str, Any]:
        return self.fake.dm(self.id)

    # -------------------------------------------------------------- what they see besides messages
    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Ephemeral messages shown to this person, each with ``shown`` (rendered text)."""
        out = []
        for e in self.fake.ephemerals_for(self.id):
            shown = blocks_text(e["blocks"], self.fake) if e["blocks"] else (
                render_mrkdwn(e["text"], self.fake.users, self.fake.channels)[0] if e["_mrkdwn"] else e["text"])
            out.append({**e, "shown": shown})
        return out

    async def gets_ephemeral(self, contains: str | None = None, *, after: int = 0,
                             timeout: float = WAIT) -> dict[str, Any]:
        """Wait for an ephemeral message (index >= ``after``) showing ``contains``."""
        def check() -> dict[str, Any] | None:
            for e in self.ephemerals[after:]:
                if contains is None or contains in e["shown"] or contains in e["text"]:
                    return e
            return None

        try:
            found: dict[str, Any] = await self.fake.wait_for(check, timeout)
        except TimeoutError:
            raise AssertionError(f"no ephemeral {contains!r} for {self.id}: "
                                 f"{[e['shown'][:80] for e in self.ephemerals]}") from None
        return found

    @property
    def home(self) -> SlackView | None:
        view = self.fake.home.get(self.id)
        return None if view is None else SlackView(self.fake, view["id"])

    async def sees_home(self, contains: str | None = None, *, timeout: float = WAIT) -> SlackView:
        """Wait until the published App Home shows ``contains``."""
        def check() -> SlackView | None:
            home = self.home
            return home if home is not None and (contains is None or contains in home.text) else None

        try:
            found: SlackView = await self.fake.wait_for(check, timeout)
        except TimeoutError:
            raise AssertionError(f"App Home of {self.id} does not show {contains!r}: "
                                 f"{self.home.text if self.home else None!r}") from None
        return found

    @property
    def modal(self) -> SlackView | None:
        """The modal on top of this person's screen, if any."""
        stack = self.fake.modal_stack.get(self.id) or []
        return SlackView(self.fake, stack[-1]) if stack else None

    async def gets_modal(self, title: str | None = None, *, other_than: SlackView | None = None,
                         timeout: float = WAIT) -> SlackView:
        """Wait until a modal (with ``title`` in its title; not ``other_than``) is on top."""
        def check() -> SlackView | None:
            m = self.modal
            if m is None or (other_than is not None and m.id == other_than.id):
                return None
            return m if title is None or title in m.title else None

        try:
            found: SlackView = await self.fake.wait_for(check, timeout)
        except TimeoutError:
            raise AssertionError(f"no modal {title!r} for {self.id}; views.open calls: "
                                 f"{self.fake.calls_of('views.open')}") from None
        return found

    # -------------------------------------------------------------- actions
    def _channel_of(self, channel: SlackChannel | str | None) -> dict[str, Any]:
        if channel is None:
            return self.dm
        channel_id = channel.id if isinstance(channel, SlackChannel) else channel
        found = self.fake.channels.get(channel_id)
        assert found is not None, f"no channel {channel_id}"
        return found

    def _message(self, channel: dict[str, Any], text: str, thread_ts: str | None,
                 files: list[dict[str, Any]], typed: str | None = None) -> dict[str, Any]:
        ts = self.fake.new_ts()
        msg: dict[str, Any] = {
            "type": "message", "user": self.id, "text": text, "ts": ts, "team": self.fake.team_id,
            "client_msg_id": f"{self.fake.new_id('cm')}-0000-4000-8000-000000000000",
            "blocks": [{"type": "rich_text", "block_id": ts[-5:], "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text if typed is None else typed}]}]}]
            if text else [],
            "_channel": channel["id"],
        }
        if files:
            msg["files"] = files
            msg["upload"] = False
            msg["subtype"] = "file_share"
            msg["display_as_bot"] = False
        if thread_ts is not None:
            root = self.fake.message(channel["id"], thread_ts)
            assert root is not None, f"no message {thread_ts} to reply to in {channel['id']}"
            msg["thread_ts"] = root.get("thread_ts") or root["ts"]
            msg["parent_user_id"] = root.get("user")
            root.setdefault("thread_ts", root["ts"])
            root["reply_count"] = root.get("reply_count", 0) + 1
        self.fake.messages.setdefault(channel["id"], []).append(msg)
        return msg

    async def says(self, text: str, *, channel: SlackChannel | str | None = None,
                   thread_ts: str | None = None, files: list[tuple[str, bytes]] | None = None,
                   raw: bool = False, **options: Any) -> Action:
        """A message from this person: in their DM with the app (message.im) or in a
        channel (message.channels / message.groups), in a thread when ``thread_ts``;
        ``files`` as (name, bytes) shared with it (subtype file_share). In a channel the
        app is not in, the message is stored but Slack sends no event (``post`` None).

        As in Slack, what the person typed arrives with ``&``, ``<``, ``>`` escaped in
        ``text`` (``&amp;`` ``&lt;`` ``&gt;``; the rich_text block keeps it as typed);
        ``raw=True`` sends ``text`` as given, for mrkdwn Slack itself makes from what is
        typed (a mention ``<@U123>``, a link ``<https://x|x>``)."""
        target = self._channel_of(channel)
        if not target.get("is_im"):
            assert self.id in self.fake.members.get(target["id"], set()), (
                f"{self} is not in {target['id']}: channel.add(person) or fake.channel(..., members=[id])")
        shared = []
        for name, content in files or []:
            record = self.fake.add_file(name, content, user=self.id)
            shared.append({k: v for k, v in record.items() if not k.startswith("_")})
        msg = self._message(target, text if raw else escape(text), thread_ts, shared, typed=text)
        view = SlackMessage(self.fake, target["id"], msg["ts"])
        if not self.fake.app_in(target["id"]):
            return Action(None, view)
        event = {k: v for k, v in msg.items() if not k.startswith("_")}
        event.update(channel=target["id"], event_ts=msg["ts"],
                     channel_type="im" if target.get("is_im") else ("group" if target.get("is_private") else "channel"))
        post = await self.fake.post_event(event, **options)
        return Action(post, view)

    async def edits(self, message: MessageRef | Action, new_text: str, **options: Any) -> Action:
        """This person edits their message (a ``message_changed`` event, as Slack sends it)."""
        msg = _message_view(self.fake, message)
        raw = msg.raw
        assert raw.get("user") == self.id, "people edit only their own messages"
        previous = {k: v for k, v in raw.items() if not k.startswith("_")}
        raw["text"] = escape(new_text)
        raw["edited"] = {"user": self.id, "ts": self.fake.new_ts()}
        if not self.fake.app_in(msg.channel):
            return Action(None, msg)
        channel = self.fake.channels[msg.channel]
        event = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": msg.channel,
                 "ts": self.fake.new_ts(), "event_ts": raw["edited"]["ts"],
                 "channel_type": "im" if channel.get("is_im") else ("group" if channel.get("is_private") else "channel"),
                 "message": {k: v for k, v in raw.items() if not k.startswith("_")},
                 "previous_message": previous}
        return Action(await self.fake.post_event(event, **options), msg)

    async def presses(self, message: MessageRef | SlackView, label: str, *, value: str | None = None,
                      action_id: str | None = None, **options: Any) -> Action:
        """A click on the Block Kit button labelled ``label`` (block_actions) on a message,
        an ephemeral message (a dict from ``ephemerals`` / ``gets_ephemeral``; Slack sends
        no ``message`` then) or a view (App Home or a modal).

        ``value`` / ``action_id`` replace the button's: a forged request (Slack itself
        only sends what the button holds); with both given the button need not exist."""
        trigger_id = self.fake.new_trigger(self.id)
        action_ts = f"{time.time():.6f}"
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self.fake.user_ref(self.id), "api_app_id": self.fake.app_id,
            "token": self.fake.verification_token, "trigger_id": trigger_id, "team": self.fake.team_ref(),
            "enterprise": None, "is_enterprise_install": False, "state": {"values": {}},
        }
        if isinstance(message, SlackView):
            blocks = message.blocks
            view = message.raw
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["view"] = {k: v for k, v in view.items() if not k.startswith("_")}
        elif isinstance(message, dict) and _ephemeral(self.fake, message) is not None:
            eph = _ephemeral(self.fake, message)
            assert eph is not None and eph["user"] == self.id, "only its addressee sees an ephemeral message"
            blocks = eph["blocks"]
            channel = self.fake.channels[eph["channel"]]
            payload["container"] = {"type": "message", "message_ts": eph["ts"], "channel_id": eph["channel"],
                                    "is_ephemeral": True}
            payload["channel"] = {"id": eph["channel"], "name": channel.get("name", "directmessage")}
            payload["response_url"] = self.fake.new_response_url(self.id, eph["channel"], eph["ts"])
        else:
            msg = _message_view(self.fake, message)
            blocks = msg.blocks
            raw = msg.raw
            channel = self.fake.channels[msg.channel]
            container: dict[str, Any] = {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel,
                                         "is_ephemeral": False}
            if raw.get("thread_ts"):
                container["thread_ts"] = raw["thread_ts"]
            payload["container"] = container
            payload["channel"] = {"id": msg.channel, "name": channel.get("name", "directmessage")}
            payload["message"] = {k: v for k, v in raw.items() if not k.startswith("_")}
            payload["response_url"] = self.fake.new_response_url(self.id, msg.channel, msg.ts)
        found = [(b, el) for b, el in buttons_in(blocks) if el["text"]["text"] == label]
        if not found and value is not None and action_id is not None:
            found = [({"block_id": "forged"}, {"type": "button", "text": {"type": "plain_text", "text": label}})]
        assert found, f"no button {label!r}; buttons: {[el['text']['text'] for _, el in buttons_in(blocks)]}"
        block, el = found[0]
        action = {"action_id": action_id if action_id is not None else el.get("action_id", ""),
                  "block_id": block.get("block_id", ""), "text": el["text"], "type": "button",
                  "action_ts": action_ts}
        if value is not None:
            action["value"] = value
        elif "value" in el:
            action["value"] = el["value"]
        if "style" in el:
            action["style"] = el["style"]
        payload["actions"] = [action]
        post = await self.fake.post_interaction(payload, **options)
        return Action(post, trigger_id=trigger_id)

    async def slash(self, command: str, text: str = "", *, channel: SlackChannel | str | None = None,
                    **options: Any) -> Action:
        """A slash command typed in the DM with the app (or in ``channel``)."""
        channel_id = None if channel is None else (channel.id if isinstance(channel, SlackChannel) else channel)
        trigger_id = self.fake.new_trigger(self.id)
        post = await self.fake.post_command(self.id, command, text, channel_id=channel_id,
                                            trigger_id=trigger_id, **options)
        return Action(post, trigger_id=trigger_id)

    async def submits(self, view: SlackView, values: dict[str, dict[str, Any]], **options: Any) -> Action:
        """Submitting a modal: ``values`` block_id -> action_id -> value (a string for text
        inputs; an option's value or text for selects; a list for multi-selects). Inputs
        not given keep what the view shows (their ``initial_value`` / ``initial_option``)."""
        raw = view.raw
        submitted = {k: v for k, v in raw.items() if not k.startswith("_")}
        submitted["state"] = raw["state"] = {"values": _view_state(view, values)}
        payload = {
            "type": "view_submission", "team": self.fake.team_ref(), "user": self.fake.user_ref(self.id),
            "api_app_id": self.fake.app_id, "token": self.fake.verification_token,
            "trigger_id": self.fake.new_trigger(self.id), "view": submitted, "response_urls": [],
            "is_enterprise_install": False, "enterprise": None,
        }
        post = await self.fake.post_interaction(payload, **options)
        return Action(post, trigger_id=payload["trigger_id"])

    async def selects(self, view: SlackView, block_id: str, value: str, *,
                      typed: dict[str, dict[str, Any]] | None = None, **options: Any) -> Action:
        """Choosing ``value`` (an option's value or text) in the select of input ``block_id``
        of a modal, with ``typed`` (as for :meth:`submits`) entered in other fields before.
        Slack tells the app (block_actions) only when the input has ``dispatch_action``."""
        block = view.inputs.get(block_id)
        assert block is not None, f"no input block {block_id!r} in {view!r}; inputs: {list(view.inputs)}"
        element = block["element"]
        values = {**(typed or {}), block_id: {element["action_id"]: value}}
        raw = view.raw
        raw["state"] = {"values": _view_state(view, values)}
        if not block.get("dispatch_action"):
            return Action(None)
        trigger_id = self.fake.new_trigger(self.id)
        chosen = raw["state"]["values"][block_id][element["action_id"]]
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self.fake.user_ref(self.id), "api_app_id": self.fake.app_id,
            "token": self.fake.verification_token, "trigger_id": trigger_id, "team": self.fake.team_ref(),
            "enterprise": None, "is_enterprise_install": False,
            "container": {"type": "view", "view_id": raw["id"]},
            "view": {k: v for k, v in raw.items() if not k.startswith("_")},
            "actions": [{"type": element["type"], "action_id": element["action_id"], "block_id": block_id,
                         "selected_option": chosen.get("selected_option"), "action_ts": f"{time.time():.6f}"}],
        }
        post = await self.fake.post_interaction(payload, **options)
        return Action(post, trigger_id=trigger_id)

    async def closes(self, view: SlackView, **options: Any) -> Action | None:
        """Closing the modal; Slack tells the app (view_closed) only with notify_on_close."""
        raw = view.raw
        stack = self.fake.modal_stack.get(self.id, [])
        if view.id in stack:
            self.fake.modal_stack[self.id] = stack[: stack.index(view.id)]
        if not raw.get("notify_on_close"):
            return None
        payload = {"type": "view_closed", "team": self.fake.team_ref(), "user": self.fake.user_ref(self.id),
                   "api_app_id": self.fake.app_id, "token": self.fake.verification_token,
                   "view": {k: v for k, v in raw.items() if not k.startswith("_")}, "is_cleared": False}
        return Action(await self.fake.post_interaction(payload, **options))

    async def shortcut(self, message: MessageRef, callback_id: str, **options: Any) -> Action:
        """The message shortcut ``callback_id`` run on ``message`` (message_action)."""
        msg = _message_view(self.fake, message)
        raw = msg.raw
        channel = self.fake.channels[msg.channel]
        trigger_id = self.fake.new_trigger(self.id)
        payload = {
            "type": "message_action", "token": self.fake.verification_token, "action_ts": f"{time.time():.6f}",
            "team": self.fake.team_ref(), "user": self.fake.user_ref(self.id),
            "channel": {"id": msg.channel, "name": channel.get("name", "directmessage")},
            "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
            "trigger_id": trigger_id, "response_url": self.fake.new_response_url(self.id, msg.channel, msg.ts),
            "message_ts": msg.ts, "message": {k: v for k, v in raw.items() if not k.startswith("_")},
        }
        post = await self.fake.post_interaction(payload, **options)
        return Action(post, trigger_id=trigger_id)

    async def reacts(self, message: MessageRef, name: str = "ticket", **options: Any) -> Action:
        """Adding the reaction ``:name:`` to ``message`` (reaction_added)."""
        msg = _message_view(self.fake, message)
        raw = msg.raw
        reactions = raw.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if self.id not in entry["users"]:
            entry["users"].append(self.id)
            entry["count"] += 1
        if not self.fake.app_in(msg.channel):
            return Action(None, msg)
        event = {"type": "reaction_added", "user": self.id, "reaction": name,
                 "item": {"type": "message", "channel": msg.channel, "ts": msg.ts},
                 "item_user": raw.get("user"), "event_ts": self.fake.new_ts()}
        return Action(await self.fake.post_event(event, **options), msg)

    async def opens_home(self, **options: Any) -> Action:
        """Opening the app's Home tab (app_home_opened)."""
        event: dict[str, Any] = {"type": "app_home_opened", "user": self.id, "channel": self.dm["id"],
                                 "tab": "home", "event_ts": self.fake.new_ts()}
        home = self.fake.home.get(self.id)
        if home is not None:
            event["view"] = {k: v for k, v in home.items() if not k.startswith("_")}
        return Action(await self.fake.post_event(event, **options))


def _message_view(fake: FakeSlack, message: MessageRef | Action) -> SlackMessage:
    if isinstance(message, SlackMessage):
        return message
    if isinstance(message, Action):
        assert message.message is not None, "this action has no message"
        return message.message
    channel = message.get("_channel") or message.get("channel")
    assert channel, f"cannot tell the channel of {message}"
    return SlackMessage(fake, str(channel), str(message["ts"]))


def escape(text: str) -> str:
    """What Slack does to typed text in a message's ``text``: ``&`` ``<`` ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ephemeral(fake: FakeSlack, message: dict[str, Any]) -> dict[str, Any] | None:
    if "user" not in message or "channel" not in message:
        return None
    return next((e for e in fake.ephemerals if e["ts"] == message.get("ts")), None)


def _view_state(view: SlackView, values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A view's ``state.values`` as Slack builds it: ``values`` entered now, the other inputs
    as entered before in this view (its current state), else as the view shows them (initial
    value or option), else empty."""
    before = (view.raw.get("state") or {}).get("values") or {}
    state: dict[str, dict[str, Any]] = {}
    for block_id, by_action in values.items():
        block = view.inputs.get(block_id)
        assert block is not None, f"no input block {block_id!r} in {view!r}; inputs: {list(view.inputs)}"
        element = block["element"]
        for action_id, value in by_action.items():
            assert element.get("action_id") == action_id, (
                f"input {block_id!r} has action_id {element.get('action_id')!r}, not {action_id!r}")
            state.setdefault(block_id, {})[action_id] = _state_value(element, value)
    for block_id, block in view.inputs.items():
        element = block["element"]
        if block_id not in state and element.get("action_id") in (before.get(block_id) or {}):
            state[block_id] = {element["action_id"]: before[block_id][element["action_id"]]}
        elif block_id not in state and element.get("action_id"):
            shown = element.get("initial_value")
            if shown is None and isinstance(element.get("initial_option"), dict):
                shown = element["initial_option"].get("value")
            state[block_id] = {element["action_id"]: _state_value(element, shown)}
    return state


def _state_value(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """One input's entry in view.state.values, as Slack builds it."""
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        if value is None:
            return {"type": kind, "selected_option": None}
        option = _option(element, value)
        return {"type": kind, "selected_option": option}
    if kind in ("multi_static_select", "checkboxes"):
        chosen = [_option(element, v) for v in (value or [])]
        return {"type": kind, "selected_options": chosen}
    if kind in ("users_select",):
        return {"type": kind, "selected_user": value}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": value}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "number_input":
        return {"type": kind, "value": None if value is None else str(value)}
    return {"type": kind or "plain_text_input", "value": value}


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    options = element.get("options") or [o for g in element.get("option_groups", []) for o in g.get("options", [])]
    for o in options:
        if o.get("value") == value or o.get("text", {}).get("text") == value:
            return {k: v for k, v in o.items() if k in ("text", "value", "description")}
    raise AssertionError(f"no option {value!r} in {[o.get('text', {}).get('text') for o in options]}")


async def serve_bolt(bolt_app: Any, path: str = "/slack/events") -> tuple[Any, str]:
    """A bare loopback aiohttp server handing ``path`` to a slack-bolt ``AsyncApp``
    through bolt's aiohttp adapter; returns (runner, request URL). Clean up the runner."""
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

    async def handle(request: web.Request) -> web.Response:
        bolt_resp = await bolt_app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_resp)

    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return runner, f"http://127.0.0.1:{port}{path}"


def slack_section(fake: FakeSlack, *, socket_mode: bool = False, **extra: Any) -> dict[str, Any]:
    """The config's ``slack`` section for a desk talking to ``fake`` (HTTP mode, or Socket
    Mode with the app token); ``extra`` adds keys such as ``ticket_reaction``."""
    section: dict[str, Any] = {"bot_token": fake.token, "signing_secret": fake.signing_secret,
                               "api_base": fake.base_url, **extra}
    if socket_mode:
        section["app_token"] = fake.app_token
    return section
