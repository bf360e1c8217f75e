"""The writer's SQL: one insert per table, compiled once per store.

Compiled with positional parameters in the order of ``_rows.COLUMNS``, so a batch goes
to the DBAPI's ``executemany`` as the plain tuples ``_rows`` builds.

Runs are upserted (``INSERT ... ON CONFLICT (id) DO UPDATE``) rather than inserted: a
resumed run comes back as a new object with the same id, and a batch retried after a
lost COMMIT acknowledgement must not fail on its own rows. History, logs and results
are append-only inserts.

An update sets only the columns the engine owns (``ENGINE_OWNED``): the deployment
columns of a flow run (worker, heartbeat, slot, output notebook, ...) belong to the
scheduler and the workers, which write them in their own transactions. A deployment run
also keeps the name, flow name, parameters and tags it was created with: the kernel that
executes it attaches to the run and knows them only as far as it read them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Table, bindparam, case, delete, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from kernel_ext.store import _tables
from kernel_ext.store._rows import COLUMNS, TimeEncoder
from kernel_ext.store._tables import writer_batches
from kernel_ext.store._types import from_epoch, sqlite_epoch

__all__ = ["ENGINE_OWNED", "BatchClaims", "prepare_batch_claims", "prepare_inserts"]

# The columns an engine event may change in an existing row: those it writes, but the
# run's identity and creation time.
ENGINE_OWNED: dict[str, tuple[str, ...]] = {
    table: tuple(c for c in COLUMNS[table] if c not in ("id", "created"))
    for table in ("flow_runs", "task_runs")
}
# ... except these, in the row of a deployment run.
_DEPLOYMENT_OWNED = ("name", "flow_name", "parameters", "tags")


def prepare_inserts(dialect: Dialect) -> tuple[list[tuple[str, str]], TimeEncoder]:
    """The SQL of each table's insert, in write order, and how to encode times."""
    if dialect.name == "postgresql":
        # The engine's dialect renders named parameters; psycopg takes positional ones
        # too, which lets the rows stay tuples.
        compiler: Dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
        encode_time: TimeEncoder = from_epoch
    else:
        compiler, encode_time = dialect, sqlite_epoch
    prepared = []
    for table, statement in _statements(dialect.name):
        columns = COLUMNS[table.name]
        compiled = statement.compile(
            dialect=compiler, column_keys=list(columns), for_executemany=True
        )
        if tuple(compiled.positiontup or ()) != columns:
            raise RuntimeError(f"The writer's columns for {table.name} are out of date.")
        prepared.append((table.name, str(compiled)))
    return prepared, encode_time


class BatchClaims(NamedTuple):
    """The SQL of a PostgreSQL batch's claim (``writer_batches``), positional."""

    claim: str  # (id, created) -> the id, or no row if the batch is recorded already
    prune: str  # (cutoff,): forget the batches created before it


def prepare_batch_claims() -> BatchClaims:
    """The claim statements, rendered for psycopg's positional parameters."""
    from sqlalchemy.dialects import postgresql  # PostgreSQL stores only (see _statements)

    compiler = postgresql.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    claim = (
        postgresql.insert(writer_batches)
        .values(id=bindparam("id"), created=bindparam("created"))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(writer_batches.c.id)
    )
    prune = delete(writer_batches).where(writer_batches.c.created < bindparam("cutoff"))
    return BatchClaims(str(claim.compile(dialect=compiler)), str(prune.compile(dialect=compiler)))


def _statements(dialect: str) -> list[tuple[Table, Insert]]:
    # The dialect package the engine loaded already: a SQLite store never imports
    # PostgreSQL's (tens of milliseconds of a command's start).
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        upsert: Any = postgresql.insert
    else:
        from sqlalchemy.dialects import sqlite

        upsert = sqlite.insert
    statements: list[tuple[Table, Insert]] = []
    for table in (_tables.flow_runs, _tables.task_runs):
        statement = upsert(table)
        changes = _changes(table, statement.excluded)
        statements.append(
            (table, statement.on_conflict_do_update(index_elements=["id"], set_=changes))
        )
    for table in (_tables.state_history, _tables.logs, _tables.results):
        statements.append((table, insert(table)))
    # An event retried after a lost COMMIT acknowledgement is kept once, by its id.
    statements.append((_tables.events, upsert(_tables.events).on_conflict_do_nothing()))
    return statements


def _changes(table: Table, excluded: Any) -> dict[str, ColumnElement[Any]]:
    changes: dict[str, ColumnElement[Any]] = {}
    for name in ENGINE_OWNED[table.name]:
        changes[name] = excluded[name]
        if table.name == "flow_runs" and name in _DEPLOYMENT_OWNED:
            kept = table.c.deployment_id.is_not(None)
            changes[name] = case((kept, table.c[name]), else_=excluded[name])
    return changes
