"""The hot path on SQLAlchemy Core: statements built once per process, rows as tuples.

The ORM costs Python work per statement that the desk does not need on the statements
every event sends (the sender, their conversation, the inbox key, audit rows, outbox
rows): building the expression, generating its cache key, the unit of work of a flush,
and constructing model objects through the loader. A module-level Core construct (a
``select`` / ``insert`` / ``update`` on the *table*, with ``bindparam`` placeholders)
memoizes its cache key, so executing the same object again finds its compiled form at
once; the ORM's compile step is skipped because the statement names no entity.

Two rules keep this identical to what the ORM did:

- :func:`run` flushes pending ORM changes first, as the ORM's autoflush (before a query)
  and ``add`` + ``flush`` (before a write) did: the statements reach the database in the
  same order, and a Core read sees what the ORM wrote in this transaction.
- Model objects built from a row (:func:`from_row`) carry the row's values with no
  attribute history, as if loaded; :func:`adopt` puts one into the session's identity map
  (no SQL), so later ORM code (``s.get``, ``s.add`` + flush, ``refresh``) treats it as the
  loaded object it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

M = TypeVar("M")


async def run(s: AsyncSession, stmt: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Any:
    """Execute a Core statement in the session's transaction (pending ORM changes first).

    It goes through ``Session.execute`` (not the raw connection), so session events such as
    the outbox's "rows were written" flag still see it."""
    if not s.sync_session._is_clean():  # noqa: SLF001 — the check ``flush()`` itself starts with
        await s.flush()
    return await s.exec(stmt, params=params)


def from_row(cls: type[M], values: Mapping[str, Any]) -> M:
    """A ``cls`` instance holding ``values`` (every column, the primary key included) as
    loaded state: no attribute history, not in any session ("detached")."""
    obj: M = sa_inspect(cls).class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    return obj


def adopt(s: AsyncSession, cls: type[M], values: Mapping[str, Any], *, overwrite: bool = True) -> M:
    """The session's object for this row, added as persistent without SQL (:func:`from_row`).
    An object of this row already in the identity map is returned instead, with the row's
    values set on it (``overwrite``, as ``populate_existing`` does; :func:`run` flushed its
    pending changes before the row was read, so nothing of this transaction is lost)."""
    ss = s.sync_session
    key = sa_inspect(cls).identity_key_from_primary_key((values["id"],))
    known = ss.identity_map.get(key)
    if known is not None:
        if overwrite:
            for name, value in values.items():
                set_committed_value(known, name, value)
        return known  # type: ignore[no-any-return]
    obj = from_row(cls, values)
    ss.add(obj)
    return obj
