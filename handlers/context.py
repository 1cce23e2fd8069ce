"""Everything one handled event needs: the transaction, who acts, and where replies go.

Replies are collected as (destination, reply) pairs and written to the outbox in
the event's transaction by :meth:`Context.flush`. Addresses are resolved here:
a person is reached on the platform they last wrote from; a team's queue is its
configured chat on each platform, or the DMs of that tier's agents where the
platform has no team chat (the terminal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LOCALES, Config
from handlers.events import Destination, Incoming, Outgoing, Reply
from handlers.texts import Translator, localize_usage, translator
from scheduler import sla
from store import outbox, people
from store.models import Identity, Person, Ticket
from store.tickets import audit_denied

ReplyBuilder = Callable[[Translator], Reply]

# Answers that refuse a button press (nothing was done): for a press the frontend answers in
# place (``Incoming.alert``) they become ``Outcome.alert`` instead of a message in the chat.
REFUSAL_KEYS = frozenset({
    "stale_button", "button_outdated", "reason_bad_state", "no_ticket", "denied", "claimed_by_other",
    "claimed_already_yours", "rate_range", "unknown_category", "unknown_article", "use_buttons",
})


def pick_locale(person: Person, config: Config, platform_locale: str | None) -> str:
    """/lang choice → configured locale → platform's language → desk default."""
    if person.locale in LOCALES:
        return person.locale  # type: ignore[return-value]
    conf = config.people.get(person.key)
    if conf is not None and conf.locale:
        return conf.locale
    if platform_locale:
        short = platform_locale.split("-")[0].split("_")[0].lower()
        if short in LOCALES:
            return short
    return config.desk.default_locale


SYSTEM_PLATFORM = "system"  # the desk acting on its own (the scheduler): no chat to answer in


def system_context(s: AsyncSession, config: Config, now: datetime, platforms: tuple[str, ...],
                   *, occasion: str) -> Context:
    """A context for what the desk does by itself (the sweep), in the desk's language.

    Nobody acts: the actor is an unsaved stand-in person (``person.id`` is ``None``), so
    only the addressing and delivery parts are used (``to_person``, ``to_team``,
    ``to_leads``, ``update_card``, ``flush``); actions record ``actor_id=None``."""
    person = Person(key="deskbot", name=config.desk.name, locale=config.desk.default_locale)
    identity = Identity(person_id=0, platform=SYSTEM_PLATFORM, platform_user_id="deskbot")
    inc = Incoming(platform=SYSTEM_PLATFORM, chat_id="", user_id="deskbot", event_key=occasion, is_private=False)
    return Context(s=s, config=config, inc=inc, person=person, identity=identity, now=now, platforms=platforms)


def _per_locale(build: ReplyBuilder) -> Callable[[str], Reply]:
    """``build`` for a locale, called once per locale (the same reply object is reused)."""
    made: dict[str, Reply] = {}

    def get(locale: str) -> Reply:
        if locale not in made:
            made[locale] = build(translator(locale))
        return made[locale]

    return get


@dataclass
class Context:
    s: AsyncSession
    config: Config
    inc: Incoming
    person: Person
    identity: Identity
    now: datetime
    platforms: tuple[str, ...]
    locale: str = "en"
    _out: list[tuple[Destination, Reply, str]] = field(default_factory=list)
    # (platform, chat_id, ticket_id, card) of cards this event found already posted: only
    # their pending edits can be stale (see flush).
    _posted: set[tuple[str, str, int, str]] = field(default_factory=set)
    after_commit: list[Callable[[], Any]] = field(default_factory=list)
    alert: str | None = None  # shown in place: a refusal (alert presses), an unannounced gesture's notice
    # The ticket this event acts on (set when an action loads it): answers in a shared chat
    # carry it, so the platform's sender puts them in the ticket's thread.
    subject_ticket: int | None = None
    # The KB matcher (handlers.ports.KnowledgeBase) when the event comes through the engine;
    # the resolved card's "Answered by" offer needs it (None: no offer).
    kb: Any = None

    def __post_init__(self) -> None:
        self.locale = pick_locale(self.person, self.config, self.identity.locale)
        sla.track(self.s)  # flush() settles the SLA pause of the tickets this event changes

    @property
    def t(self) -> Translator:
        return translator(self.locale)

    @property
    def person_id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    # --- addressing -----------------------------------------------------------

    def here(self, reply: Reply) -> None:
        """Answer in the chat the event came from: in its topic / thread, or, in a group chat
        outside a topic, as a reply to the message that asked (so the answer stays in the
        reply chain of the ticket's card)."""
        inc = self.inc
        reply_to = inc.message_id if not inc.is_private and inc.thread_id is None else None
        if not inc.is_private and reply.ticket_id is None and self.subject_ticket is not None:
            reply = dataclasses.replace(reply, ticket_id=self.subject_ticket)
        dest = Destination(inc.platform, inc.chat_id, self.person_id, inc.thread_id, reply_to)
        self._out.append((dest, reply, self.locale))

    def reply(self, key: str, **values: Any) -> None:
        if key == "usage" and isinstance(values.get("usage"), str):
            values["usage"] = localize_usage(values["usage"], self.locale)
        text = self.t(key, **values)
        if key in REFUSAL_KEYS:
            self.refuse(text)
        else:
            self.here(Reply(text))

    @property
    def answers_in_place(self) -> bool:
        """A button press whose frontend shows refusals in place (an alert)."""
        return self.inc.alert and self.inc.is_button

    def refuse(self, text: str) -> None:
        """A refusal: shown in place for an alert press (the first one counts), else said here."""
        if self.answers_in_place:
            if self.alert is None:
                self.alert = text
            return
        self.here(Reply(text))

    async def reader_zone(self) -> str | None:
        """The actor's own time zone, for times in the answers to them: their profile's on
        the platform they wrote from, else the last one they had anywhere (None: unknown)."""
        return self.identity.timezone or await people.timezone_of(self.s, self.person_id, self.inc.platform)

    async def to_person(self, person_id: int, build: ReplyBuilder) -> None:
        """Reach a person on the platform they last used (that this desk serves)."""
        dest, locale = await self._person_destination(person_id)
        if dest is not None:
            self._out.append((dest, build(translator(locale)), locale))

    def to_destination(self, dest: Destination, build: ReplyBuilder, locale: str) -> None:
        """Write to one given place (e.g. a particular account of a person, not their latest)."""
        self._out.append((dest, build(translator(locale)), locale))

    async def _person_destination(self, person_id: int) -> tuple[Destination | None, str]:
        found = await people.reach_one(self.s, person_id)  # loaded once per event
        if found is None:
            return None, self.config.desk.default_locale
        person = found.person
        idents = [i for i in found.identities if i.platform in self.platforms]
        if not idents:
            return None, pick_locale(person, self.config, None)
        order = {p: n for n, p in enumerate(self.platforms)}
        best = max(
            idents,
            key=lambda i: (i.last_seen_at is not None, i.last_seen_at or self.now, -order[i.platform]),
        )
        chat = best.dm_chat_id or best.platform_user_id
        return Destination(best.platform, chat, person_id), pick_locale(person, self.config, best.locale)

    async def reached_on(self, person_id: int) -> str | None:
        """The platform a message to this person would be delivered on (None: nowhere)."""
        dest, _ = await self._person_destination(person_id)
        return dest.platform if dest is not None else None

    def team_chat_platforms(self, team: str) -> set[str]:
        """The platforms (that this desk serves) where ``team`` has a shared queue chat."""
        chats = self.config.teams[team].chats
        return {p for p in self.platforms if getattr(chats, p, None) is not None}

    async def team_destinations(self, team: str, tier: str) -> list[tuple[Destination, str]]:
        """Where ``team``'s queue for ``tier`` is seen, with the locale to write in."""
        conf = self.config.teams[team]
        dests: list[tuple[Destination, str]] = []
        members: list[Person] | None = None  # the tier's agents, loaded once for every platform
        reach: dict[int, people.Reach] = {}
        for platform in self.platforms:
            chat = getattr(conf.chats, platform, None)
            if chat is not None:
                dests.append((Destination(platform, str(chat)), conf.locale or self.config.desk.default_locale))
                continue
            # No team chat on this platform: deliver to that tier's agents directly (their
            # identities in one query, however many they are).
            if members is None:
                members = [p for p, m in await people.team_members(self.s, team) if m.tier == tier]
                if not members:
                    members = [p for p, _ in await people.team_members(self.s, team, people.ROLE_LEAD)]
                reach = await people.reach(self.s, [m.id for m in members if m.id is not None])
            for member in members:
                assert member.id is not None
                for ident in reach[member.id].identities if member.id in reach else ():
                    if ident.platform == platform:
                        dests.append(
                            (
                                Destination(platform, ident.dm_chat_id or ident.platform_user_id, member.id),
                                pick_locale(member, self.config, ident.locale),
                            )
                        )
        return dests

    async def to_team(self, team: str, tier: str, build: ReplyBuilder) -> None:
        built = _per_locale(build)  # 21 agents in two languages: two renderings
        for dest, locale in await self.team_destinations(team, tier):
            self._out.append((dest, built(locale), locale))

    async def to_team_chats(self, team: str, tier: str, build: ReplyBuilder) -> None:
        """Only the shared team chats (not agents' DMs): for notices next to an edited card."""
        if not self.team_chat_platforms(team):
            return  # no shared chat here: nothing to look up
        built = _per_locale(build)
        for dest, locale in await self.team_destinations(team, tier):
            if dest.person_id is None:
                self._out.append((dest, built(locale), locale))

    async def to_leads(self, team: str, build: ReplyBuilder) -> None:
        conf = self.config.teams[team]
        sent_platforms: set[str] = set()
        for platform in self.platforms:
            chat = getattr(conf.lead_chats, platform, None)
            if chat is not None:
                locale = conf.locale or self.config.desk.default_locale
                self._out.append((Destination(platform, str(chat)), build(translator(locale)), locale))
                sent_platforms.add(platform)
        if sent_platforms:
            return
        for lead, _ in await people.team_members(self.s, team, people.ROLE_LEAD):
            assert lead.id is not None
            await self.to_person(lead.id, build)

    async def update_card(self, ticket: Ticket, build: ReplyBuilder) -> None:
        """Send or edit the ticket's queue card everywhere it is (or should be) shown."""
        targets = await self.team_destinations(ticket.team, ticket.tier)
        covered = {(dest.platform, dest.chat_id) for dest, _ in targets}
        # Cards shown elsewhere (an earlier tier's agents, a team chat no longer configured)
        # are edited too; their readers are looked up together.
        posts = await outbox.posts_of(self.s, ticket.id, "queue")  # type: ignore[arg-type]
        self._posted.update((post.platform, post.chat_id, post.ticket_id, post.card) for post in posts)
        elsewhere = [(post.platform, post.chat_id) for post in posts
                     if post.platform in self.platforms and (post.platform, post.chat_id) not in covered]
        targets += await self._post_targets(ticket.team, elsewhere)
        seen: set[tuple[str, str]] = set()

        def card(t: Translator) -> Reply:
            reply = build(t)
            return Reply(reply.text, reply.buttons, ticket_id=ticket.id, card="queue")

        built = _per_locale(card)  # rendered once per language, not once per reader
        for dest, locale in targets:
            key = (dest.platform, dest.chat_id)
            if key in seen:
                continue
            seen.add(key)
            self._out.append((dest, built(locale), locale))

    async def _post_targets(self, team: str, chats: list[tuple[str, str]]) -> list[tuple[Destination, str]]:
        """Where existing cards live and the locale of each reader, for several cards at once
        (one query for all their readers). A card in a person's direct chat is written in that
        person's language; a card in a team chat in the team's configured locale (the desk
        default when it has none)."""
        if not chats:
            return []
        readers = await people.people_at(self.s, chats)
        out: list[tuple[Destination, str]] = []
        for platform, chat_id in chats:
            found = readers.get((platform, chat_id))
            if found is not None:
                ident, person = found
                out.append((Destination(platform, chat_id, person.id), pick_locale(person, self.config, ident.locale)))
            else:
                out.append((Destination(platform, chat_id),
                            self.config.teams[team].locale or self.config.desk.default_locale))
        return out

    # --- refusals -------------------------------------------------------------

    async def deny(
        self, action: str, reason_key: str, ticket_id: int | None, *, shown: str | None = None, **values: Any
    ) -> None:
        """Refuse, tell the person why, and audit the refusal.

        ``shown`` replaces the told reason with another text key (e.g. ``no_ticket``, so a
        stranger cannot tell a missing ticket from someone else's); the audit keeps the real one.
        """
        if shown is not None:
            self.refuse(self.t(shown, **values))
        else:
            self.refuse(self.t("denied", reason=self.t(reason_key, **values)))
        await audit_denied(
            self.s, ticket_id=ticket_id, actor_id=self.person_id, action=action,
            reason=reason_key.removeprefix("reason_"), now=self.now,
        )

    # --- delivery -------------------------------------------------------------

    async def flush(self) -> list[Outgoing]:
        """Pause or resume the SLA of the tickets whose status changed (waiting on the
        requester or no longer), then write every collected reply to the outbox (same
        transaction as the change)."""
        await sla.settle(self.s, self.config, self.now)
        result: list[Outgoing] = []
        rows: list[outbox.NewMessage] = []
        # One payload per reply and locale: a card shared by 21 readers is serialised twice
        # (once per language), not 21 times.
        made: dict[tuple[int, str], tuple[Reply, dict[str, Any]]] = {}
        for dest, built, locale in self._out:
            key = (id(built), locale)
            if key not in made:
                reply = dataclasses.replace(built, locale=locale) if built.locale is None else built
                made[key] = (reply, reply.to_payload())
            reply, payload = made[key]
            rows.append(outbox.NewMessage(
                platform=dest.platform, chat_id=dest.chat_id,
                payload={**payload, "thread_id": dest.thread_id, "reply_to": dest.reply_to},
                person_id=dest.person_id, ticket_id=reply.ticket_id, card=reply.card,
            ))
            result.append(Outgoing(dest, reply))
        # A posted card's pending edits are stale once its newer state is written (one
        # UPDATE; none for a card not posted yet, such as a new ticket's).
        stale = [key for r in rows if (key := (r.platform, r.chat_id, r.ticket_id or 0, r.card or "")) in self._posted]
        await outbox.supersede_cards(self.s, stale, self.now)
        self._posted.clear()
        await outbox.enqueue_many(self.s, rows, self.now)  # one multi-row INSERT for the event
        self._out.clear()
        return result
