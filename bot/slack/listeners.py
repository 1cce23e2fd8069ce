"""bolt listeners: which Slack requests reach the desk, and how each is answered.

Every listener calls ``ack()`` first. The app runs with ``process_before_response=True``,
so the acknowledgement is only *recorded*; bolt sends it as the HTTP response (or the
Socket Mode envelope answer) after the listener returned — that is, after the engine's
transaction committed. A listener that raises makes bolt answer 500, and Slack delivers
the request again (the engine's inbox makes the repeat a no-op).

| Slack request                                   | listener         | desk                        |
|-------------------------------------------------|------------------|-----------------------------|
| ``message`` (DM, channel thread, edits)         | :func:`message`  | ``translate.message``       |
| ``block_actions`` with ``action_id`` ``b<r>.<c>`` | :func:`pressed`  | refusals → ``chat.postEphemeral`` |
| ``/helpdesk [queue | take 12 | text]``          | :func:`helpdesk` | ``/queue``, ``/take 12``, ``/new text`` |
| ``/helpdesk`` alone                             | :func:`helpdesk` | opens the modal (:mod:`bot.slack.modal`) |
| the modal submitted (``view_submission``)       | :func:`submitted`| ``file_request``; errors on the field |
| message shortcut ``create_ticket``              | :func:`shortcut` | ``file_message`` for the author |
| ``reaction_added`` with ``slack.ticket_reaction`` | :func:`reacted`  | ``file_message`` for the author |
| ``app_home_opened`` (the Home tab)              | :func:`home_opened` | ``signal="home"``: the Home is published |
| any other event                                 | acknowledged     | —                           |
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from bot.slack import modal, translate
from bot.slack.handoff import Handoff
from handlers.texts import t

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.config import Config
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("deskbot.slack")

BUTTON_ACTION_ID = re.compile(r"^b\d+\.\d+$")
COMMAND = "/helpdesk"
SHORTCUT = "create_ticket"


def register(app: AsyncApp, desk: Handoff, config: Config) -> None:
    """Attach the desk's listeners to ``app`` (order matters: the catch-all is last)."""
    ticket_reaction = config.slack.ticket_reaction

    async def message(ack: Any, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if not translate.concerns_desk(event):
            return
        user = str((event.get("message") or {}).get("user") if event.get("subtype") == translate.EDITED
                   else event.get("user") or "")
        locale, name = await desk.profile(client, user)
        key = translate.event_key(translate.team_of(body), str(body.get("event_id") or ""))
        inc = translate.message(event, key, locale=locale, display_name=name)
        if inc is not None:
            await desk.handle(inc)

    async def pressed(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        locale, name = await desk.profile(client, user)
        inc = translate.button(body, translate.press_key(body), locale=locale, display_name=name)
        outcome = await desk.handle(inc)
        if outcome.alert:
            try:
                await client.chat_postEphemeral(channel=inc.chat_id, user=user, text=outcome.alert)
            except Exception as exc:  # noqa: BLE001 - the press is committed; only the notice is lost
                log.warning("chat.postEphemeral failed: %s", type(exc).__name__)

    async def helpdesk(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = str(body.get("user_id") or "")
        locale, name = await desk.profile(client, user)  # one users.info, then cached
        if not str(body.get("text") or "").strip():
            # The trigger is good once, for 3 s: nothing else happens before the modal opens.
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""),
                                    view=modal.view(config, locale or config.desk.default_locale))
            return
        key = translate.command_key(translate.team_of(body), str(body.get("trigger_id") or ""))
        await desk.handle(translate.command(body, key, locale=locale, display_name=name))

    async def file_for_author(client: AsyncWebClient, key: str, author: str, msg: dict[str, Any], *,
                              by: str, channel: str) -> None:
        opened = await client.conversations_open(users=author)
        dm = str((opened.get("channel") or {}).get("id") or "")
        locale, name = await desk.profile(client, author)
        outcome = await desk.handle(translate.file_message(
            author=author, dm_channel=dm, text=str(msg.get("text") or ""), key=key,
            files=translate.attachments_of(msg), locale=locale, display_name=name))
        if outcome.duplicate or not outcome.outgoing:
            return
        # Whoever used the gesture is told where the request went (only they see it).
        by_locale, _ = await desk.profile(client, by)
        notice = t("slack_filed_for", by_locale or config.desk.default_locale, name=name or author)
        try:
            await client.chat_postEphemeral(channel=channel, user=by, text=notice)
        except Exception as exc:  # noqa: BLE001 - filed and committed; only the notice is lost
            log.warning("chat.postEphemeral failed: %s", type(exc).__name__)

    async def shortcut(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        msg = body.get("message") or {}
        author = str(msg.get("user") or "")
        if not author or translate.from_a_bot(msg):
            return
        key = translate.action_key(translate.team_of(body), str(body.get("action_ts") or body.get("trigger_id")))
        await file_for_author(client, key, author, msg, by=str((body.get("user") or {}).get("id") or ""),
                              channel=str((body.get("channel") or {}).get("id") or ""))

    async def reacted(ack: Any, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        item = event.get("item") or {}
        if event.get("reaction") != ticket_reaction or item.get("type") != "message":
            return
        msg = await _message_at(client, str(item.get("channel") or ""), str(item.get("ts") or ""))
        author = str((msg or {}).get("user") or event.get("item_user") or "")
        if msg is None or not author or translate.from_a_bot(msg):
            return
        key = translate.event_key(translate.team_of(body), str(body.get("event_id") or ""))
        await file_for_author(client, key, author, msg, by=str(event.get("user") or ""),
                              channel=str(item.get("channel") or ""))

    async def submitted(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        desc, category, errors = modal.read(body.get("view") or {}, config)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        opened = await client.conversations_open(users=user)
        dm = str((opened.get("channel") or {}).get("id") or "")
        locale, name = await desk.profile(client, user)
        key = translate.action_key(translate.team_of(body), str(body.get("trigger_id") or (body.get("view") or {}).get("id")))
        await desk.handle(translate.filed_request(user=user, dm_channel=dm, text=desc, category=category, key=key,
                                                  locale=locale, display_name=name))

    async def home_opened(ack: Any, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if event.get("tab") != "home":
            return
        locale, name = await desk.profile(client, str(event.get("user") or ""))
        key = translate.event_key(translate.team_of(body), str(body.get("event_id") or ""))
        inc = translate.home_opened(event, key, locale=locale, display_name=name)
        if inc is not None:
            await desk.handle(inc)

    async def other(ack: Any) -> None:
        # Subscribed events the desk does not use are acknowledged (Slack retries a 404).
        await ack()

    app.event("message")(message)
    app.action(BUTTON_ACTION_ID)(pressed)
    app.command(COMMAND)(helpdesk)
    app.shortcut(SHORTCUT)(shortcut)
    app.view(modal.CALLBACK_ID)(submitted)
    app.event("reaction_added")(reacted)
    app.event("app_home_opened")(home_opened)
    app.event(re.compile(".*"))(other)


async def _message_at(client: AsyncWebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """The message ``ts`` in ``channel``: a top-level one, else a thread reply."""
    resp = await client.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)
    for msg in resp.get("messages") or ():
        if msg.get("ts") == ts:
            return dict(msg)
    resp = await client.conversations_replies(channel=channel, ts=ts, inclusive=True, limit=1)
    for msg in resp.get("messages") or ():
        if msg.get("ts") == ts:
            return dict(msg)
    return None
