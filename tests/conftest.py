"""Shared fixtures: a config, a database on SQLite or PostgreSQL, a built desk.

PostgreSQL tests use the server on 127.0.0.1:5432 (``DESKBOT_TEST_POSTGRES`` to
override the server URL). If it is unreachable the tests fail — they are not
skipped — unless ``DESKBOT_SKIP_POSTGRES=1`` is set explicitly on a developer
machine without PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build
from bot.config import Config, load_config
from store import migrate
from store.db import Database
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("DESKBOT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SKIP_PG = os.environ.get("DESKBOT_SKIP_POSTGRES") == "1"


@pytest.fixture(scope="session", autouse=True)
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary XDG_CACHE_HOME for the session: the KB index cache (kb/cache.py) never
    writes to the real home directory (subprocesses inherit it too)."""
    home = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(ROOT / "config.yaml", env={})


def run_blocking(coro: Any) -> Any:
    """Run a coroutine to completion on its own loop in a worker thread (for sync fixtures
    that may be set up while a test's loop is already running)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str) -> None:
    import asyncpg

    dsn = PG_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    if SKIP_PG:
        pytest.skip("DESKBOT_SKIP_POSTGRES=1")
    name = f"deskbot_test_{uuid.uuid4().hex[:10]}"
    try:
        run_blocking(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_SERVER} is needed for these tests: {exc!r}")
    url = f"{PG_SERVER}/{name}"

    async def up() -> None:
        db = Database(url)
        await migrate.upgrade(db)
        await db.dispose()

    run_blocking(up())
    yield url
    run_blocking(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import store.models  # noqa: F401

    db = Database(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await db.dispose()


@pytest.fixture
def clean_pg_url(pg_url: str) -> str:
    """The session's PostgreSQL database with every table emptied (ids from 1 again)."""
    run_blocking(_truncate(pg_url))
    return pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a fresh file) and on PostgreSQL (truncated tables)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    url: str = request.getfixturevalue("pg_url")
    run_blocking(_truncate(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """A migrated database (no people synced)."""
    db = Database(db_url)
    await migrate.upgrade(db)
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[App]:
    """A started desk on the parametrised database, delivering to a recording sender."""
    built = build(config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock)
    await built.start()
    yield built
    await built.close()


@pytest.fixture
async def desk(app: App) -> Desk:
    return await Desk.open(app)


@pytest.fixture
async def sqlite_desk(config: Config, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    """A desk on SQLite only (for flow tests where the database does not matter)."""
    built = build(config, senders={"console": RecordingSender()}, database_url=sqlite_url, clock=clock)
    await built.start()
    yield await Desk.open(built)
    await built.close()
