"""People, their platform identities and team memberships.

Config is the source of truth for who is an agent or a lead; :func:`sync_from_config`
copies it into the database at start so every authorisation check is a query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import Identity, Membership, Person

ROLE_AGENT = "agent"
ROLE_LEAD = "lead"


@dataclass(frozen=True)
class PersonSpec:
    """A configured person: key, display name and platform ids."""

    key: str
    name: str
    identities: tuple[tuple[str, str], ...]  # (platform, platform_user_id)


@dataclass(frozen=True)
class MembershipSpec:
    person_key: str
    team: str
    role: str
    tier: str | None = None


async def sync_from_config(
    s: AsyncSession, people: Iterable[PersonSpec], memberships: Iterable[MembershipSpec]
) -> None:
    """Upsert configured people and identities; replace memberships with the configured ones."""
    by_key: dict[str, Person] = {}
    for spec in people:
        person = (await s.exec(select(Person).where(Person.key == spec.key))).first()
        if person is None:
            person = Person(key=spec.key, name=spec.name)
            s.add(person)
        else:
            person.name = spec.name
        await s.flush()
        by_key[spec.key] = person
        for platform, uid in spec.identities:
            await ensure_identity(s, person, platform, uid)
    await s.exec(delete(Membership))  # type: ignore[call-overload]
    for m in memberships:
        person = by_key.get(m.person_key)
        if person is None:
            raise ValueError(f"membership for unknown person {m.person_key!r}")
        assert person.id is not None
        s.add(Membership(person_id=person.id, team=m.team, role=m.role, tier=m.tier))
    await s.flush()


async def ensure_identity(
    s: AsyncSession, person: Person, platform: str, platform_user_id: str, dm_chat_id: str | None = None
) -> Identity:
    """Link ``platform_user_id`` to ``person`` (moving it if it pointed elsewhere)."""
    ident = (
        await s.exec(
            select(Identity).where(
                Identity.platform == platform, Identity.platform_user_id == platform_user_id
            )
        )
    ).first()
    if ident is None:
        ident = Identity(
            person_id=person.id,  # type: ignore[arg-type]
            platform=platform,
            platform_user_id=platform_user_id,
            dm_chat_id=dm_chat_id or platform_user_id,
        )
        s.add(ident)
    else:
        ident.person_id = person.id  # type: ignore[assignment]
    await s.flush()
    forget_reach(s)
    return ident


async def resolve_sender(
    s: AsyncSession,
    platform: str,
    platform_user_id: str,
    *,
    display_name: str | None,
    locale: str | None,
    chat_id: str | None,
    private: bool,
    now: datetime,
    seen: bool = True,
    timezone: str | None = None,
) -> tuple[Person, Identity]:
    """Find (or create) the person behind an incoming event and mark the identity as last used
    (``seen=False``: an event that is not the person writing, e.g. blocking the bot).

    The hot path (a known sender) is two Core statements built once (:mod:`store.core`): the
    identity with its person, and an UPDATE only when something changed (as the ORM's flush
    wrote only changed columns); both objects are put into the session as loaded."""
    row = (await core.run(s, _SENDER, {"platform": platform, "platform_user_id": platform_user_id})).first()
    if row is not None:
        ivals = dict(zip(_IDENTITY_KEYS, row[:_N_IDENTITY], strict=True))
        changes: dict[str, Any] = {}
        if display_name and ivals["display_name"] != display_name[:200]:
            changes["display_name"] = display_name[:200]
        if locale and ivals["locale"] != locale[:8]:
            changes["locale"] = locale[:8]
        if timezone and ivals["timezone"] != timezone[:64]:
            changes["timezone"] = timezone[:64]
        if private and chat_id and ivals["dm_chat_id"] != chat_id:
            changes["dm_chat_id"] = chat_id
        if seen:
            if ivals["last_seen_at"] != now:
                changes["last_seen_at"] = now
            if ivals["unreachable_at"] is not None:
                changes["unreachable_at"] = None  # they wrote again: messages to them are attempted again
        if changes:
            # One statement whatever changed: a column not changing keeps the row's value.
            await core.run(s, _SENDER_SEEN, {
                "iid": ivals["id"], "display_name": changes.get("display_name"), "locale": changes.get("locale"),
                "timezone": changes.get("timezone"), "dm_chat_id": changes.get("dm_chat_id"),
                "last_seen_at": changes.get("last_seen_at"), "clear_unreachable": "unreachable_at" in changes,
            })
            ivals.update(changes)
        person = core.adopt(s, Person, dict(zip(_PERSON_KEYS, row[_N_IDENTITY:], strict=True)), refresh=True)
        ident = core.adopt(s, Identity, ivals, refresh=True)
        return person, ident
    key = f"{platform}:{platform_user_id}"
    if len(key) > 64:  # Person.key is VARCHAR(64): a stable digest keeps it unique
        key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    person = Person(key=key, name=(display_name or platform_user_id)[:200])
    s.add(person)
    await s.flush()
    ident = Identity(person_id=person.id, platform=platform, platform_user_id=platform_user_id)  # type: ignore[arg-type]
    s.add(ident)
    forget_reach(s)
    if display_name:
        ident.display_name = display_name[:200]
    if locale:
        ident.locale = locale[:8]
    if timezone:
        ident.timezone = timezone[:64]
    if private and chat_id:
        ident.dm_chat_id = chat_id
    if seen:
        ident.last_seen_at = now
        ident.unreachable_at = None
    await s.flush()
    return person, ident


_IDENTITY = Identity.__table__  # type: ignore[attr-defined]
_PERSON = Person.__table__  # type: ignore[attr-defined]
_IDENTITY_KEYS = tuple(c.key for c in _IDENTITY.c)
_PERSON_KEYS = tuple(c.key for c in _PERSON.c)
_N_IDENTITY = len(_IDENTITY_KEYS)
_SENDER = (
    sa.select(*_IDENTITY.c, *_PERSON.c)
    .select_from(_IDENTITY.join(_PERSON, _PERSON.c.id == _IDENTITY.c.person_id))
    .where(_IDENTITY.c.platform == sa.bindparam("platform"),
           _IDENTITY.c.platform_user_id == sa.bindparam("platform_user_id"))
)
_SENDER_SEEN = (
    sa.update(_IDENTITY)
    .where(_IDENTITY.c.id == sa.bindparam("iid"))
    .values(
        display_name=sa.func.coalesce(sa.bindparam("display_name", type_=_IDENTITY.c.display_name.type),
                                      _IDENTITY.c.display_name),
        locale=sa.func.coalesce(sa.bindparam("locale", type_=_IDENTITY.c.locale.type), _IDENTITY.c.locale),
        timezone=sa.func.coalesce(sa.bindparam("timezone", type_=_IDENTITY.c.timezone.type), _IDENTITY.c.timezone),
        dm_chat_id=sa.func.coalesce(sa.bindparam("dm_chat_id", type_=_IDENTITY.c.dm_chat_id.type),
                                    _IDENTITY.c.dm_chat_id),
        last_seen_at=sa.func.coalesce(sa.bindparam("last_seen_at", type_=_IDENTITY.c.last_seen_at.type),
                                      _IDENTITY.c.last_seen_at),
        unreachable_at=sa.case((sa.bindparam("clear_unreachable", type_=sa.Boolean()), sa.null()),
                               else_=_IDENTITY.c.unreachable_at),
    )
)


def _identities_at(platform: str, chat_id: str) -> Any:
    """Identities whose direct messages go to ``chat_id`` on ``platform``."""
    return select(Identity).where(
        Identity.platform == platform,
        (col(Identity.dm_chat_id) == chat_id)
        | (col(Identity.dm_chat_id).is_(None) & (col(Identity.platform_user_id) == chat_id)),
    )


async def identity_at(s: AsyncSession, platform: str, chat_id: str) -> Identity | None:
    """The identity whose direct chat is ``chat_id`` on ``platform`` (``None``: a shared chat)."""
    return (await s.exec(_identities_at(platform, chat_id))).first()


async def people_at(s: AsyncSession, chats: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[Identity, Person]]:
    """:func:`identity_at` for several ``(platform, chat_id)`` at once, with each identity's
    person: one query per platform (a shared chat is left out)."""
    by_platform: dict[str, set[str]] = {}
    for platform, chat_id in chats:
        by_platform.setdefault(platform, set()).add(chat_id)
    found: dict[tuple[str, str], tuple[Identity, Person]] = {}
    for platform, ids in by_platform.items():
        rows = await s.exec(
            select(Identity, Person)
            .join(Person, col(Person.id) == col(Identity.person_id))
            .where(
                Identity.platform == platform,
                col(Identity.dm_chat_id).in_(ids)
                | (col(Identity.dm_chat_id).is_(None) & col(Identity.platform_user_id).in_(ids)),
            )
            .order_by(col(Identity.id))
        )
        for ident, person in rows:
            chat = ident.dm_chat_id if ident.dm_chat_id is not None else ident.platform_user_id
            found.setdefault((platform, chat), (ident, person))  # the first, as identity_at takes it
    return found


async def mark_unreachable(s: AsyncSession, platform: str, chat_id: str, now: datetime) -> None:
    """The platform refused delivery to this person's chat (they blocked the bot)."""
    for ident in await s.exec(_identities_at(platform, chat_id)):
        if ident.unreachable_at is None:
            ident.unreachable_at = now
            s.add(ident)
    await s.flush()


async def mark_reachable(s: AsyncSession, platform: str, chat_id: str) -> None:
    """The person unblocked the bot in this chat: deliver to them again."""
    for ident in await s.exec(_identities_at(platform, chat_id)):
        if ident.unreachable_at is not None:
            ident.unreachable_at = None
            s.add(ident)
    await s.flush()


async def is_unreachable(s: AsyncSession, platform: str, chat_id: str) -> bool:
    """Whether ``chat_id`` is a person's chat that blocked the bot and they have not written since."""
    return any(ident.unreachable_at is not None for ident in await s.exec(_identities_at(platform, chat_id)))


async def timezone_of(s: AsyncSession, person_id: int, platform: str | None = None) -> str | None:
    """The person's time zone from their profiles: their identity's on ``platform`` (where they
    are addressed), else that of the identity they used last that has one."""
    idents = [i for i in await identities_of(s, person_id) if i.timezone]
    if not idents:
        return None
    never = datetime.min.replace(tzinfo=UTC)
    best = max(idents, key=lambda i: (i.platform == platform, _aware(i.last_seen_at) or never))
    return best.timezone


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def get_person(s: AsyncSession, person_id: int) -> Person | None:
    return await s.get(Person, person_id)


# People loaded with their identities in this transaction (``reach``): the cards, relays and
# replies of one event ask about the same few people many times (the requester for the card
# text, whether they blocked the bot, where to write to them). The map also keeps the objects
# alive, so the session's identity map answers ``s.get(Person, id)`` without a query.
REACH_KEY = "deskbot.reach"


@dataclass(frozen=True)
class Reach:
    person: Person
    identities: tuple[Identity, ...]


def forget_reach(s: AsyncSession) -> None:
    """Identities were added or moved between people: load them again when next asked."""
    s.info.pop(REACH_KEY, None)


async def reach(s: AsyncSession, person_ids: Iterable[int]) -> dict[int, Reach]:
    """These people with their identities, the ones not yet loaded in this transaction in one
    query (a person who does not exist is left out). Changes made through the ORM to the
    loaded objects are seen; code that adds or moves identities calls :func:`forget_reach`."""
    known: dict[int, Reach] = s.info.setdefault(REACH_KEY, {})
    wanted = set(person_ids)
    missing = sorted(wanted - known.keys())
    if missing:
        found: dict[int, tuple[Person, list[Identity]]] = {}
        for row in await core.run(s, _REACH, {"ids": missing}):
            pid = row[0]
            entry = found.get(pid)
            if entry is None:
                person = core.adopt(s, Person, dict(zip(_PERSON_KEYS, row[:_N_PERSON], strict=True)), refresh=False)
                entry = found[pid] = (person, [])
            if row[_N_PERSON] is not None:  # the outer join's identity
                entry[1].append(core.adopt(s, Identity, dict(zip(_IDENTITY_KEYS, row[_N_PERSON:], strict=True)),
                                           refresh=False))
        for pid, (person, idents) in found.items():
            known[pid] = Reach(person, tuple(idents))
    return {pid: known[pid] for pid in wanted if pid in known}


async def reach_one(s: AsyncSession, person_id: int) -> Reach | None:
    return (await reach(s, (person_id,))).get(person_id)


async def identities_of_people(s: AsyncSession, person_ids: Iterable[int]) -> dict[int, list[Identity]]:
    """Every identity of each of these people, in one query (for a team's fan-out)."""
    return {pid: list(r.identities) for pid, r in (await reach(s, person_ids)).items()}


async def person_by_key(s: AsyncSession, key: str) -> Person | None:
    return (await s.exec(select(Person).where(Person.key == key))).first()


async def identities_of(s: AsyncSession, person_id: int) -> list[Identity]:
    found = await reach_one(s, person_id)
    return list(found.identities) if found is not None else []


async def memberships_of(s: AsyncSession, person_id: int) -> list[Membership]:
    rows = await s.exec(select(Membership).where(Membership.person_id == person_id))
    return list(rows)


async def team_members(s: AsyncSession, team: str, role: str = ROLE_AGENT) -> list[tuple[Person, Membership]]:
    """The team's people in ``role`` with their membership, by person id. The people are the
    session's objects (a later ``reach`` or ``s.get`` finds them); the memberships are
    detached (read only: memberships change only through :func:`sync_from_config`)."""
    return [
        (core.adopt(s, Person, dict(zip(_PERSON_KEYS, row[:_N_PERSON], strict=True)), refresh=False),
         core.from_row(Membership, dict(zip(_MEMBERSHIP_KEYS, row[_N_PERSON:], strict=True))))
        for row in await core.run(s, _TEAM_MEMBERS, {"team": team, "role": role})
    ]


async def has_role(s: AsyncSession, person_id: int, team: str, role: str) -> bool:
    row = (await core.run(s, _HAS_ROLE, {"person_id": person_id, "team": team, "role": role})).first()
    return row is not None


_MEMBERSHIP = Membership.__table__  # type: ignore[attr-defined]
_MEMBERSHIP_KEYS = tuple(c.key for c in _MEMBERSHIP.c)
_N_PERSON = len(_PERSON_KEYS)
_REACH = (
    sa.select(*_PERSON.c, *_IDENTITY.c)
    .select_from(_PERSON.outerjoin(_IDENTITY, _IDENTITY.c.person_id == _PERSON.c.id))
    .where(_PERSON.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_PERSON.c.id, _IDENTITY.c.id)
)
_TEAM_MEMBERS = (
    sa.select(*_PERSON.c, *_MEMBERSHIP.c)
    .select_from(_PERSON.join(_MEMBERSHIP, _MEMBERSHIP.c.person_id == _PERSON.c.id))
    .where(_MEMBERSHIP.c.team == sa.bindparam("team"), _MEMBERSHIP.c.role == sa.bindparam("role"))
    .order_by(_PERSON.c.id)
)
_HAS_ROLE = sa.select(_MEMBERSHIP.c.id).where(
    _MEMBERSHIP.c.person_id == sa.bindparam("person_id"), _MEMBERSHIP.c.team == sa.bindparam("team"),
    _MEMBERSHIP.c.role == sa.bindparam("role"),
)


async def is_agent(s: AsyncSession, person_id: int, team: str) -> bool:
    return await has_role(s, person_id, team, ROLE_AGENT)


async def is_lead(s: AsyncSession, person_id: int, team: str) -> bool:
    return await has_role(s, person_id, team, ROLE_LEAD)


async def set_locale(s: AsyncSession, person: Person, locale: str) -> None:
    person.locale = locale
    s.add(person)
    await s.flush()


async def set_away(s: AsyncSession, person: Person, away: bool) -> None:
    person.away = away
    s.add(person)
    await s.flush()
