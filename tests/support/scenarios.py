"""Helpers for engine-level tests: a predictable KB, config variants, ticket set-up, DB snapshots.

The handler tests drive the real engine and outbox worker (through :class:`Desk`), but
with :class:`FakeKb` instead of the bundled knowledge base, so that a change in the KB
articles or the matcher cannot change which buttons a requester sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from bot.app import build
from bot.config import Config, parse_config
from store.models import OutboxMessage, Ticket, TicketEvent, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class FakeArticle:
    slug: str
    title: str
    body: str


@dataclass(frozen=True)
class FakeSuggestion:
    slug: str
    title: str
    score: float


VPN_ARTICLE = FakeArticle("vpn-setup", "VPN: how to connect", "Open the VPN client and sign in.")


@dataclass
class FakeKb:
    """Suggests :data:`VPN_ARTICLE` for any text that mentions VPN, and nothing else."""

    feedback: list[tuple[str, str, bool]] = field(default_factory=list)

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> Sequence[FakeSuggestion]:
        if "vpn" in text.lower():
            return [FakeSuggestion(VPN_ARTICLE.slug, VPN_ARTICLE.title, 0.9)][:limit]
        return []

    def article(self, slug: str) -> FakeArticle | None:
        return VPN_ARTICLE if slug == VPN_ARTICLE.slug else None

    def record_feedback(self, query: str, slug: str, solved: bool) -> None:
        self.feedback.append((query, slug, solved))


# --- configuration variants ---------------------------------------------------------


def sample_config_data() -> dict[str, Any]:
    """The sample ``config.yaml`` as a plain mapping, to be changed and re-validated."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return data


def make_config(*changes: Callable[[dict[str, Any]], None]) -> Config:
    """The sample config with ``changes`` applied to its raw mapping, validated as usual."""
    data = sample_config_data()
    for change in changes:
        change(data)
    return parse_config(data, source="<test config>", env={})


def add_agents(team: str, tier: str, keys: Sequence[str], *, locale: str = "en") -> Callable[[dict[str, Any]], None]:
    """A config change: new people ``keys`` (named after their key) as ``team`` agents of ``tier``."""

    def change(data: dict[str, Any]) -> None:
        for key in keys:
            data["people"][key] = {"name": key.capitalize(), "locale": locale}
            data["teams"][team]["tiers"].setdefault(tier, []).append(key)

    return change


def set_assignment(team: str, policy: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["teams"][team]["assignment"] = policy

    return change


@asynccontextmanager
async def open_desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    """A started desk on ``db_url`` with :class:`FakeKb`, delivering to a recording sender."""
    app = build(config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock, kb=FakeKb())
    await app.start()
    try:
        yield await Desk.open(app)
    finally:
        await app.close()


# --- set-up through the real flow ---------------------------------------------------


async def open_ticket(desk: Desk, who: str, text: str) -> int:
    """``who`` files a ticket about ``text`` through the requester flow; returns its number.

    Skips KB suggestions, confirms the guessed category and, if asked, files a new ticket
    instead of adding to an open one.
    """
    async with desk.app.db.transaction() as s:
        before = (await s.exec(select(func.max(Ticket.id)))).one() or 0
    await desk.say(who, text)
    for _ in range(4):
        actions = {b.action for b in desk.last(who).buttons}
        if "pending_new" in actions:  # "which request is this about?" — a new one
            await desk.click(who, "pending_new")
        elif "open_ticket" in actions:
            await desk.click(who, "open_ticket")
        elif "cat_ok" in actions:
            await desk.click(who, "cat_ok")
        elif "dup_new" in actions:
            await desk.click(who, "dup_new")
        else:
            break
    async with desk.app.db.transaction() as s:
        number = (await s.exec(select(func.max(Ticket.id)))).one()
    assert number is not None and number > before, f"no ticket filed for {text!r}; {who} saw {desk.last(who).text!r}"
    return number


# --- reading the store ----------------------------------------------------------------


async def ticket_row(desk: Desk, number: int) -> dict[str, Any]:
    """Every column of ticket ``number`` (for before/after comparisons)."""
    async with desk.app.db.transaction() as s:
        ticket = await s.get(Ticket, number)
        assert ticket is not None, f"no ticket #{number}"
        return ticket.model_dump()


async def ticket_events(desk: Desk, number: int) -> list[TicketEvent]:
    async with desk.app.db.transaction() as s:
        rows = await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == number).order_by(col(TicketEvent.id)))
        return list(rows)


async def all_events(desk: Desk) -> list[TicketEvent]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(TicketEvent).order_by(col(TicketEvent.id))))


async def ticket_messages(desk: Desk, number: int) -> list[TicketMessage]:
    async with desk.app.db.transaction() as s:
        rows = await s.exec(select(TicketMessage).where(TicketMessage.ticket_id == number).order_by(col(TicketMessage.id)))
        return list(rows)


async def count_rows(desk: Desk, model: type[SQLModel]) -> int:
    async with desk.app.db.transaction() as s:
        n: int = (await s.exec(select(func.count()).select_from(model))).one()
        return n


async def outbox_rows(desk: Desk) -> list[OutboxMessage]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def person_id(desk: Desk, key: str) -> int:
    from store import people

    async with desk.app.db.transaction() as s:
        person = await people.person_by_key(s, key)
        assert person is not None and person.id is not None, f"no person {key!r}"
        return person.id
