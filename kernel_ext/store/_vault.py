"""Secrets and variables: named values shared by every process on the store.

A secret's row holds a Fernet token (``kernel_ext._secret_box`` encrypts and decrypts;
this module never sees a value). A variable's row holds its JSON value and tags.

Saving without ``overwrite`` is one ``INSERT ... ON CONFLICT DO NOTHING``: when two
processes save the same new name at once, one wins and the other is told the name is in
use, on SQLite and PostgreSQL alike. Reading takes several names, the first found wins,
so a profile's name and its fallback are read in one query (see ``kernel_ext._profiles``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Connection, Row

from kernel_ext._errors import SecretAlreadyExists, VariableAlreadyExists
from kernel_ext.store._tables import secrets, variables
from kernel_ext.store._types import dialect_insert, from_epoch, isoformat
from kernel_ext.store.records import SecretRecord, StoredSecret, VariableRecord

__all__ = [
    "delete_secret",
    "list_secrets",
    "list_variables",
    "read_secret",
    "read_secrets",
    "read_variable",
    "save_secret",
    "set_variable",
    "unset_variable",
]


def save_secret(
    connection: Connection, name: str, ciphertext: str, overwrite: bool, now: float
) -> SecretRecord:
    """Store ``ciphertext`` as secret ``name``; ``SecretAlreadyExists`` if the name is in
    use and not ``overwrite``."""
    if not _save(connection, secrets, name, {"ciphertext": ciphertext}, overwrite, now):
        raise SecretAlreadyExists(
            f"A secret named {name!r} exists already; save with `overwrite=True` (or "
            f"`taskbook secrets set {name} --overwrite`) to replace its value.",
            name=name,
        )
    row = connection.execute(select(secrets).where(secrets.c.name == name)).one()
    return _secret(row)


def read_secret(connection: Connection, names: Sequence[str]) -> StoredSecret | None:
    """The first of ``names`` that is a secret, with its ciphertext; None if none is."""
    rows = {row.name: row for row in connection.execute(_named(secrets, names))}
    row = next((rows[name] for name in names if name in rows), None)
    return None if row is None else {**_secret(row), "ciphertext": row.ciphertext}


def read_secrets(connection: Connection) -> list[StoredSecret]:
    """Every secret with its ciphertext (to mask them all in an output notebook)."""
    query = select(secrets).order_by(secrets.c.name)
    return [{**_secret(row), "ciphertext": row.ciphertext} for row in connection.execute(query)]


def list_secrets(connection: Connection) -> list[SecretRecord]:
    query = select(secrets.c.name, secrets.c.created, secrets.c.updated)
    return [_secret(row) for row in connection.execute(query.order_by(secrets.c.name))]


def delete_secret(connection: Connection, name: str) -> bool:
    return bool(connection.execute(delete(secrets).where(secrets.c.name == name)).rowcount)


def set_variable(
    connection: Connection,
    name: str,
    value: Any,
    tags: list[str],
    overwrite: bool,
    now: float,
) -> VariableRecord:
    """Set variable ``name``; ``VariableAlreadyExists`` if it exists and not ``overwrite``
    (as Prefect, overwriting replaces the tags too)."""
    if not _save(connection, variables, name, {"value": value, "tags": tags}, overwrite, now):
        raise VariableAlreadyExists(
            f"Variable {name!r} already exists. Use `overwrite=True` to update it. (On the "
            f"command line: `taskbook variables set {name} VALUE --overwrite`.)",
            name=name,
        )
    row = connection.execute(select(variables).where(variables.c.name == name)).one()
    return _variable(row)


def read_variable(connection: Connection, names: Sequence[str]) -> VariableRecord | None:
    """The first of ``names`` that is a variable; None if none is."""
    rows = {row.name: row for row in connection.execute(_named(variables, names))}
    return next((_variable(rows[name]) for name in names if name in rows), None)


def list_variables(connection: Connection) -> list[VariableRecord]:
    query = select(variables).order_by(variables.c.name)
    return [_variable(row) for row in connection.execute(query)]


def unset_variable(connection: Connection, name: str) -> bool:
    return bool(connection.execute(delete(variables).where(variables.c.name == name)).rowcount)


def _save(
    connection: Connection,
    table: Table,
    name: str,
    values: dict[str, Any],
    overwrite: bool,
    now: float,
) -> bool:
    """Insert row ``name``, or replace its ``values`` when ``overwrite``, in one statement;
    False if the name was taken and not replaced."""
    moment = from_epoch(now)
    upsert = dialect_insert(connection)
    statement = upsert(table).values(name=name, created=moment, updated=moment, **values)
    if overwrite:
        changed = {**values, "updated": moment}
        statement = statement.on_conflict_do_update(index_elements=["name"], set_=changed)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["name"])
    # RETURNING, not rowcount: drivers need not report the rowcount of an INSERT.
    return connection.execute(statement.returning(table.c.name)).first() is not None


def _named(table: Table, names: Sequence[str]) -> Any:
    return select(table).where(table.c.name.in_(list(names)))


def _secret(row: Any) -> SecretRecord:
    """A secret's record from a row that has (at least) its name and times."""
    return {"name": row.name, "created": isoformat(row.created), "updated": isoformat(row.updated)}


def _variable(row: Row[Any]) -> VariableRecord:
    return {
        "name": row.name,
        "value": row.value,
        "tags": list(row.tags or []),
        "created": isoformat(row.created),
        "updated": isoformat(row.updated),
    }
