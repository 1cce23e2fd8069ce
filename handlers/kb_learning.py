"""Learning from resolved tickets: the resolved card's "Answered by: …" offer and
"Save this answer as an article".

When a ticket is resolved (or closed), its queue card offers the KB articles closest to the
ticket's first message, even below the suggestion threshold. An agent (or lead) of the
ticket's team who taps one stores that message as a learned question of the article
(``kb_learned``, once per article and ticket); the matcher uses it after the next KB reload.
"Save this answer as an article" writes a draft article from the agent's last reply.
Buttons carry only the ticket number and the slug; every press is re-checked here.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handlers.context import Context, pick_locale
from handlers.events import Button, Reply
from handlers.texts import Translator
from kb.articles import default_kb_dir
from kb.drafts import draft_lang, draft_text, resolve_drafts_dir, write_draft
from store import kb_learning, people, tickets
from store.models import MessageKind, Status, Ticket

log = logging.getLogger("deskbot.kb_learning")

ANSWERED = "kb_answer"
SAVE_DRAFT = "kb_draft"
PICK = "kb_pick"  # "Another article…": a page of the whole KB, for a request no offer matched
ACTIONS = frozenset({ANSWERED, SAVE_DRAFT, PICK})
LEARN_STATUSES = (Status.RESOLVED, Status.CLOSED)
OFFER_LIMIT = 3
# The offer lists the closest articles even below the suggestion threshold (that is the
# point: the KB did not find them), but not those that share almost nothing.
OFFER_MIN_SCORE = 0.03
# Telegram's callback_data is 64 bytes: "b1|kb_answer|<ticket>|<slug>" must fit.
MAX_SLUG_BYTES = 40
MAX_LABEL_TITLE = 48
# "Another article…" lists the KB a page at a time; "/answered N words" searches it.
PICK_PAGE = 8
FIND_LIMIT = 5


@dataclasses.dataclass(frozen=True)
class Offer:
    """What the resolved card shows: the offered articles and those already chosen."""

    offered: tuple[tuple[str, str], ...]  # (slug, title)
    chosen: tuple[tuple[str, str], ...]
    can_draft: bool = True  # an agent replied: there is an answer to save as an article
    can_pick: bool = True  # the KB has articles to list under "Answered by another article…"


async def first_message(ctx: Context, ticket: Ticket) -> str:
    """The requester's first message of the ticket (its subject when there is none)."""
    for msg in await tickets.history(ctx.s, ticket.id):  # type: ignore[arg-type]
        if msg.kind == MessageKind.REQUESTER and msg.text.strip():
            return " ".join(msg.text.split())
    return ticket.kb_query or ticket.subject


def _closest(kb: Any, text: str, limit: int = OFFER_LIMIT, floor: float = OFFER_MIN_SCORE) -> Sequence[Any]:
    """Up to ``limit`` articles for ``text`` scoring at least ``floor``, below the KB's own
    suggestion threshold (a KB whose search takes no floor: its own threshold)."""
    search = kb.search
    try:
        takes_floor = "min_score" in inspect.signature(search).parameters
    except (TypeError, ValueError):
        takes_floor = False
    if takes_floor:
        return search(text, limit, min_score=floor)
    return search(text, limit)


def _title(kb: Any, slug: str) -> str:
    article = kb.article(slug) if kb is not None else None
    return article.title if article is not None else slug


async def offer_for(ctx: Context, ticket: Ticket) -> Offer | None:
    """The offer for a resolved / closed ticket's card; ``None`` for other tickets."""
    if ctx.kb is None or ticket.status not in LEARN_STATUSES or ticket.id is None:
        return None
    chosen = tuple((r.slug, _title(ctx.kb, r.slug)) for r in await kb_learning.learned_for_ticket(ctx.s, ticket.id))
    history = await tickets.history(ctx.s, ticket.id)
    can_draft = any(m.kind == MessageKind.AGENT and m.text.strip() for m in history)
    offered = []
    for s in _closest(ctx.kb, await first_message(ctx, ticket)):
        if not fits_button(s.slug):
            log.warning("KB article %r not offered on the resolved card: its slug is longer than %d bytes",
                        s.slug, MAX_SLUG_BYTES)
            continue
        offered.append((s.slug, s.title))
    can_pick = any(fits_button(a.slug) for a in getattr(ctx.kb, "articles", ()))
    return Offer(tuple(offered), chosen, can_draft, can_pick)


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_LABEL_TITLE else title[: MAX_LABEL_TITLE - 1].rstrip() + "…"


def decorate(t: Translator, reply: Reply, ticket: Ticket, offer: Offer | None) -> Reply:
    """The card with the offer: a line naming the chosen articles, one button per offered
    article (marked once chosen) and, once an agent replied, "Save this answer as an article"."""
    if offer is None:
        return reply
    n = ticket.id
    chosen = {slug for slug, _ in offer.chosen}
    text = reply.text
    if offer.chosen:
        text += "\n" + t("card_kb_answered", titles=", ".join(f"«{title}»" for _, title in offer.chosen))
    rows = [
        (Button(t("btn_kb_answered_done" if slug in chosen else "btn_kb_answered", title=_short(title)),
                ANSWERED, n, slug),)
        for slug, title in offer.offered
    ]
    # The offer misses a request that shares no words with its article (a paraphrase:
    # the case learning is for), so any article can be chosen too.
    if offer.can_pick:
        rows.append((Button(t("btn_kb_pick"), PICK, n, "0"),))
    if offer.can_draft:
        rows.append((Button(t("btn_kb_save_draft"), SAVE_DRAFT, n),))
    return dataclasses.replace(reply, text=text, buttons=(*reply.buttons, *rows))


async def _learnable(ctx: Context, action: str, number: int | None) -> Ticket | None:
    """The ticket, if ``action`` may choose its article: it exists, the actor is staff of
    its team (else refused and audited) and it is resolved or closed (else said so)."""
    from handlers.agent import bad_state, load_ticket, require_staff

    ticket = await load_ticket(ctx, action, number)
    if ticket is None or not await require_staff(ctx, action, ticket):
        return None
    if ticket.status not in LEARN_STATUSES:
        bad_state(ctx, ticket)
        return None
    return ticket


async def on_button(ctx: Context, action: str, number: int | None, value: str | None) -> None:
    from handlers.agent import refresh_card

    ticket = await _learnable(ctx, action, number)
    if ticket is None:
        return
    if action == PICK:
        _pick_page(ctx, ticket, value)
        return  # the card is unchanged until an article is chosen
    if action == ANSWERED:
        await _answered(ctx, ticket, value or "")
    else:
        await _save_draft(ctx, ticket)
    await refresh_card(ctx, ticket)


def fits_button(slug: str) -> bool:
    """A button can carry this slug (Telegram's 64-byte callback_data, see MAX_SLUG_BYTES)."""
    return len(slug.encode()) <= MAX_SLUG_BYTES


def _choosable(articles: Sequence[Any]) -> list[tuple[str, str]]:
    """(slug, title) of the articles a button can carry."""
    return [(a.slug, a.title) for a in articles if fits_button(a.slug)]


def _page_number(value: str | None) -> int:
    value = (value or "0").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 0


def _pick_page(ctx: Context, ticket: Ticket, value: str | None) -> None:
    """One page of the KB's articles (those in the reader's language first, by title), each
    a button that chooses it, "More…" while there are more, and the search command."""
    assert ticket.id is not None
    lang = ctx.locale
    arts = sorted(getattr(ctx.kb, "articles", ()),
                  key=lambda a: (getattr(a, "lang", lang) != lang, a.title.casefold(), a.slug))
    choosable = _choosable(arts)
    if not choosable:
        ctx.reply("kb_pick_empty", n=ticket.id)
        return
    pages = (len(choosable) + PICK_PAGE - 1) // PICK_PAGE
    page = min(_page_number(value), pages - 1)
    shown = choosable[page * PICK_PAGE:(page + 1) * PICK_PAGE]
    rows = [(Button(_short(title), ANSWERED, ticket.id, slug),) for slug, title in shown]
    if page + 1 < pages:
        rows.append((Button(ctx.t("btn_kb_pick_more"), PICK, ticket.id, str(page + 1)),))
    ctx.here(Reply(ctx.t("kb_pick", n=ticket.id, page=page + 1, pages=pages), tuple(rows)))


async def find(ctx: Context, number: int, words: str) -> None:
    """``/answered N words``: choose the article that answered resolved ticket N. ``words``
    is an article's slug (chosen at once) or words to search the KB for (the closest
    articles, however weak the match, offered as buttons)."""
    from handlers.agent import refresh_card

    ticket = await _learnable(ctx, ANSWERED, number)
    if ticket is None:
        return
    if ctx.kb is None:
        ctx.reply("kb_pick_empty", n=ticket.id)
        return
    words = " ".join(words.split())
    if ctx.kb.article(words) is not None:
        await _answered(ctx, ticket, words)
        await refresh_card(ctx, ticket)
        return
    found = [s for s in _closest(ctx.kb, words, FIND_LIMIT, 0.0) if fits_button(s.slug)]
    if not found:
        ctx.reply("kb_find_none", n=ticket.id, words=words)
        return
    rows = tuple((Button(_short(s.title), ANSWERED, ticket.id, s.slug),) for s in found)
    ctx.here(Reply(ctx.t("kb_find", n=ticket.id, words=words), rows))



async def _answered(ctx: Context, ticket: Ticket, slug: str) -> None:
    article = ctx.kb.article(slug) if ctx.kb is not None and slug else None
    if article is None:
        ctx.reply("kb_unknown_article", slug=slug or "—")
        return
    assert ticket.id is not None
    question = await first_message(ctx, ticket)
    added = await kb_learning.add_learned(ctx.s, slug=slug, question=question, ticket_id=ticket.id,
                                          person_id=ctx.person_id, now=ctx.now)
    if not added:
        ctx.reply("kb_learned_already", n=ticket.id, title=article.title)
        return
    await tickets.audit(ctx.s, ticket_id=ticket.id, actor_id=ctx.person_id, action="kb_learned",
                        now=ctx.now, to_value=slug[:200])
    ctx.reply("kb_learned_ok", n=ticket.id, title=article.title)


def drafts_dir(ctx: Context) -> Path:
    desk = ctx.config.desk
    return resolve_drafts_dir(desk.kb_drafts_dir, Path(desk.kb_dir) if desk.kb_dir else default_kb_dir())


async def _save_draft(ctx: Context, ticket: Ticket) -> None:
    assert ticket.id is not None
    replies = [m for m in await tickets.history(ctx.s, ticket.id)
               if m.kind == MessageKind.AGENT and m.text.strip()]
    if not replies:
        ctx.reply("kb_draft_no_reply", n=ticket.id)
        return
    question = await first_message(ctx, ticket)
    requester = await people.get_person(ctx.s, ticket.requester_id)
    fallback = pick_locale(requester, ctx.config, None) if requester else ctx.config.desk.default_locale
    text = draft_text(title=ticket.subject or question, lang=draft_lang(question, fallback), question=question,
                      body=replies[-1].text, ticket_id=ticket.id)
    directory = drafts_dir(ctx)
    try:
        path = write_draft(directory, ticket.id, text)
    except FileExistsError:
        ctx.reply("kb_draft_exists", n=ticket.id, path=str(directory / f"ticket-{ticket.id}.md"))
        return
    except OSError as exc:
        log.error("cannot write the KB draft of #%s into %s: %s", ticket.id, directory, exc.strerror or exc)
        ctx.reply("kb_draft_failed", n=ticket.id)
        return
    await tickets.audit(ctx.s, ticket_id=ticket.id, actor_id=ctx.person_id, action="kb_draft",
                        now=ctx.now, detail=str(path)[:1000])
    ctx.reply("kb_draft_saved", n=ticket.id, path=str(path))
