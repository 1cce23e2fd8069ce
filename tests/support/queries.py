"""Counting the SQL a piece of code sends (like Django's ``assertNumQueries``).

    with count_queries(app.db) as q:
        await desk.say("anna", "VPN is down")
    assert q.statements == 9, q.report()

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the database's
engine; transactions with its ``begin`` event. ``BEGIN`` itself is not a statement here:
SQLite's ``BEGIN IMMEDIATE`` is sent as SQL by ``store.db`` while asyncpg begins
internally, so leaving it out makes the two databases' counts comparable. An
``executemany`` (one multi-row ``INSERT``) is one statement: one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from store.db import Database


@dataclass
class QueryCount:
    """What was sent while the context was open."""

    sql: list[str] = field(default_factory=list)  # each statement, as sent (parameters left out)
    transactions: int = 0
    commits: int = 0

    @property
    def statements(self) -> int:
        return len(self.sql)

    def kinds(self) -> dict[str, int]:
        """Statements by their first word (SELECT, INSERT, UPDATE, DELETE)."""
        out: dict[str, int] = {}
        for stmt in self.sql:
            word = stmt.lstrip().split(None, 1)[0].upper() if stmt.strip() else "?"
            out[word] = out.get(word, 0) + 1
        return out

    def report(self) -> str:
        """The statements one per line (for an assertion message)."""
        lines = [f"{self.statements} statements, {self.transactions} transactions:"]
        lines += [f"  {n + 1:>2}. {' '.join(stmt.split())[:160]}" for n, stmt in enumerate(self.sql)]
        return "\n".join(lines)


def _is_begin(statement: str) -> bool:
    return statement.lstrip()[:5].upper() == "BEGIN"


@contextmanager
def count_queries(database: Database) -> Iterator[QueryCount]:
    """Count the statements and transactions sent through ``database`` inside the block
    (from every task using it: count around one event at a time)."""
    found = QueryCount()
    sync_engine = database.engine.sync_engine

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not _is_begin(statement):
            found.sql.append(statement)

    def on_begin(conn: Any) -> None:
        found.transactions += 1

    def on_commit(conn: Any) -> None:
        found.commits += 1

    event.listen(sync_engine, "before_cursor_execute", on_execute)
    event.listen(sync_engine, "begin", on_begin)
    event.listen(sync_engine, "commit", on_commit)
    try:
        yield found
    finally:
        event.remove(sync_engine, "before_cursor_execute", on_execute)
        event.remove(sync_engine, "begin", on_begin)
        event.remove(sync_engine, "commit", on_commit)
