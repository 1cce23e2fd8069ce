"""``/link``: one person with accounts on several platforms joins them.

``/link`` in a direct chat gives a one-time code (10 minutes, one live code per person);
``/link CODE`` sent from an account on another platform makes both accounts one person:
everything of the merged-away person moves to the kept one in this event's transaction
(store.links.merge_people), and both accounts are told. Anything wrong — an unknown,
expired or used code, one's own code, the same platform on both sides — is refused and
nothing changes; after MAX_FAILURES wrong or expired codes in FAILURE_WINDOW every attempt
is refused for a while, so codes cannot be guessed.
"""

from __future__ import annotations

import logging

from handlers.agent import refresh_card
from handlers.context import Context, pick_locale
from handlers.events import Destination, Reply
from store import links, people, tickets
from store.models import Identity

log = logging.getLogger("deskbot.link")

PLATFORM_NAMES = {"telegram": "Telegram", "slack": "Slack", "console": "console"}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


async def link(ctx: Context, arg: str) -> None:
    if not ctx.inc.is_private:
        # A code said in a shared chat could be used by anyone there.
        ctx.reply("link_private_only")
        return
    code = links.normalize(arg)
    if not code:
        await _issue(ctx)
    else:
        await _redeem(ctx, code)


async def _issue(ctx: Context) -> None:
    assert ctx.identity.id is not None
    code = await links.issue_code(ctx.s, person_id=ctx.person_id, identity_id=ctx.identity.id,
                                  platform=ctx.inc.platform, now=ctx.now)
    minutes = int(links.CODE_TTL.total_seconds() // 60)
    ctx.reply("link_code", code=code, minutes=minutes)


async def _redeem(ctx: Context, code: str) -> None:
    s = ctx.s
    since = ctx.now - links.FAILURE_WINDOW
    failures = await links.failures_since(s, ctx.person_id, since)
    if failures >= links.MAX_FAILURES:
        ctx.reply("link_too_many", minutes=int(links.FAILURE_WINDOW.total_seconds() // 60))
        return
    row = await links.find_code(s, code)
    if row is None or row.expires_at <= ctx.now:
        await links.record_failure(s, ctx.person_id, ctx.now)
        log.info("link code refused", extra={"person": ctx.person.key, "reason": "wrong" if row is None else "expired"})
        left = links.MAX_FAILURES - failures - 1
        if row is None:
            ctx.reply("link_wrong", left=left)
        else:
            ctx.reply("link_expired")
        return
    if row.person_id == ctx.person_id:
        ctx.reply("link_own_code")
        return
    if row.platform == ctx.inc.platform:
        ctx.reply("link_same_platform", platform=platform_name(row.platform))
        return
    owner = await people.get_person(s, row.person_id)
    assert owner is not None  # the code's foreign key
    configured = set(ctx.config.people)
    if owner.key in configured and ctx.person.key in configured:
        # Two configured people: config decides who is who; joining them here would be undone.
        ctx.reply("link_both_configured")
        return
    if not await links.use_code(s, row):
        ctx.reply("link_wrong", left=links.MAX_FAILURES - failures)
        return
    kept, gone = links.survivor(owner, ctx.person, configured)
    moved = await tickets.open_tickets_of_requester(s, gone.id)  # type: ignore[arg-type]
    await links.merge_people(s, kept, gone)
    log.info("accounts linked", extra={"person": kept.key, "merged": gone.key,
                                       "platforms": [row.platform, ctx.inc.platform]})
    ctx.person = kept
    await s.refresh(ctx.identity)
    ctx.locale = pick_locale(kept, ctx.config, ctx.identity.locale)
    ctx.reply("link_done", other=platform_name(row.platform))
    asked = await s.get(Identity, row.identity_id)
    if asked is not None and asked.platform in ctx.platforms:
        dest = Destination(asked.platform, asked.dm_chat_id or asked.platform_user_id, kept.id)
        locale = pick_locale(kept, ctx.config, asked.locale)
        ctx.to_destination(dest, lambda t: Reply(t("link_done", other=platform_name(ctx.inc.platform))), locale)
    # The cards of the tickets that changed hands show their requester: show the kept person.
    for ticket in moved:
        await s.refresh(ticket)
        await refresh_card(ctx, ticket)
