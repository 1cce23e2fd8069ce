"""The migrations build exactly the schema the models describe (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import store.models  # noqa: F401 - registers the tables
from store.db import Database


def _differences(connection) -> list:  # type: ignore[no-untyped-def]
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(ctx, SQLModel.metadata)
    # alembic_version is the migration tool's own table.
    return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        diffs = await conn.run_sync(_differences)
    assert diffs == [], f"models and migrations differ: {diffs}"
