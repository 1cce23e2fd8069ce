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
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import instance_state, set_committed_value
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
    obj, _ = _new(cls, values)
    return obj


def adopt(s: AsyncSession, cls: type[M], values: Mapping[str, Any], *, refresh: bool) -> M:
    """The session's object for this row, put into its identity map as persistent, without SQL,
    as the ORM's loader does for a row it has not seen.

    An object of this row already in the identity map is returned instead, as an ORM query
    returns it: ``refresh=False`` keeps its loaded values and fills only attributes it has
    not loaded (expired ones); ``refresh=True`` gives it all the row's values, as
    ``populate_existing`` does (:func:`run` flushed its pending changes before the row was
    read, so nothing of this transaction is lost)."""
    ss = s.sync_session
    imap = ss.identity_map
    known = imap.get((cls, (values["id"],), None))
    if known is None:
        obj, state = _new(cls, values)
        state.session_id = ss.hash_key
        imap._add_unpresent(state, state.key)  # noqa: SLF001 — what loading.py calls
        return obj
    names = values.keys() if refresh else sa_inspect(known).unloaded & values.keys()
    for name in names:
        set_committed_value(known, name, values[name])
    return known  # type: ignore[no-any-return]


_managers: dict[type[Any], Any] = {}


def _new(cls: type[M], values: Mapping[str, Any]) -> tuple[M, Any]:
    """A new instance with the row's values as its loaded state and its identity key set
    (what ``make_transient_to_detached`` does, without reading the key back through the
    attributes). The models have one integer primary key ``id`` and no load events."""
    manager = _managers.get(cls)
    if manager is None:
        configure_mappers()  # a process whose first statement is a Core one
        mapper = sa_inspect(cls)
        assert [c.key for c in mapper.primary_key] == ["id"], cls
        assert not mapper.class_manager.dispatch.load, cls  # the loader would call them
        manager = _managers[cls] = mapper.class_manager
    obj: M = manager.new_instance()
    state = instance_state(obj)
    obj.__dict__.update(values)
    state.key = (cls, (values["id"],), None)
    state.identity_token = None
    return obj, state
