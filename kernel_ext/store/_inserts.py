"""The writer's SQL: one insert per table, compiled once per store.

Compiled with positional parameters in the order of ``_rows.COLUMNS``, so a batch goes
to the DBAPI's ``executemany`` as the plain tuples ``_rows`` builds.

Runs are upserted (``INSERT ... ON CONFLICT (id) DO UPDATE``) rather than inserted: a
resumed run comes back as a new object with the same id, and a batch retried after a
lost COMMIT acknowledgement must not fail on its own rows. History, logs and results
are append-only inserts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from kernel_ext.store import _tables
from kernel_ext.store._rows import COLUMNS, TimeEncoder
from kernel_ext.store._types import from_epoch, sqlite_text

__all__ = ["prepare_inserts"]


def prepare_inserts(dialect: Dialect) -> tuple[list[tuple[str, str]], TimeEncoder]:
    """The SQL of each table's insert, in write order, and how to encode times."""
    if dialect.name == "postgresql":
        # The engine's dialect renders named parameters; psycopg takes positional ones
        # too, which lets the rows stay tuples.
        compiler: Dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
        encode_time: TimeEncoder = from_epoch
    else:
        compiler, encode_time = dialect, sqlite_text
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


def _statements(dialect: str) -> list[tuple[Table, Insert]]:
    upsert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statements: list[tuple[Table, Insert]] = []
    for table in (_tables.flow_runs, _tables.task_runs):
        statement = upsert(table)
        changes = {c.name: statement.excluded[c.name] for c in table.c if c.name != "created"}
        del changes["id"]
        statements.append(
            (table, statement.on_conflict_do_update(index_elements=["id"], set_=changes))
        )
    for table in (_tables.state_history, _tables.logs, _tables.results):
        statements.append((table, insert(table)))
    return statements
