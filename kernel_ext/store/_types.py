"""Column types and value conversions shared by the tables, the writer and the readers.

Times are timezone-aware UTC datetimes in Python. PostgreSQL stores them as
``timestamptz``; SQLite (which has no time type) as epoch seconds, a REAL rounded to the
microsecond: 8 bytes where ISO text takes 26, and nothing to format on the writer's hot
path. The columns keep their declared DATETIME type (NUMERIC affinity keeps the number).
"""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from kernel_ext._states import StateType

__all__ = [
    "AutoId",
    "Json",
    "UTCDateTime",
    "dialect_insert",
    "dumps",
    "from_epoch",
    "isoformat",
    "render_item",
    "sqlite_epoch",
    "state_type",
]

# Big on PostgreSQL (history and logs grow without bound); plain INTEGER on SQLite, where
# only "INTEGER PRIMARY KEY" is an auto-incrementing rowid alias.
AutoId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class _Json(TypeDecorator[Any]):
    """JSON (None is SQL NULL); JSONB on PostgreSQL so later revisions can index and query
    inside parameters. Picked when a dialect asks rather than by ``with_variant``, which
    would import PostgreSQL's dialect with every one of its drivers' modules, on SQLite
    too: after SQLAlchemy itself, the largest import of a store's start-up."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return JSONB(none_as_null=True)
        return self.impl_instance


Json: TypeEngine[Any] = _Json()


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """Alembic's ``render_item`` (see ``migrations/env.py``): a drafted migration spells
    ``Json`` as the migrations write it, not as this module's private class."""
    if kind == "type" and isinstance(item, _Json):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return (
            "sa.JSON(none_as_null=True)"
            '.with_variant(postgresql.JSONB(none_as_null=True), "postgresql")'
        )
    return False


_REPR_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on the way out, whatever the backend returns.

    Queries bind aware datetimes (a naive one is taken as UTC); on SQLite they become
    epoch seconds, as the writer encodes its own times (``sqlite_epoch``), so that equal
    times compare equal.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _sqlite_epoch_type()
        return self.impl_instance

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if isinstance(value, datetime):
            return epoch_of(value)
        raise TypeError(f"A time column takes a datetime, not {type(value).__name__}.")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):  # SQLite
            return from_epoch(value)
        if isinstance(value, str):  # written as text by a process of a version before 0010
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@functools.cache
def _sqlite_epoch_type() -> TypeEngine[Any]:
    """SQLite's DATETIME in the DDL, holding the bound number as it is: no text on the
    way in, none parsed on the way out (``UTCDateTime`` converts)."""
    from sqlalchemy.dialects.sqlite import DATETIME

    class EpochSeconds(DATETIME):
        def bind_processor(self, dialect: Dialect) -> None:
            return None

        def result_processor(self, dialect: Dialect, coltype: object) -> None:
            return None

        def literal_processor(self, dialect: Dialect) -> Any:
            return repr

    return EpochSeconds()  # type: ignore[no-untyped-call]


def epoch_of(value: datetime) -> float:
    """An aware datetime (naive: UTC) as SQLite stores it: whole microseconds since the
    epoch, in seconds. Exact integer arithmetic, so it agrees with ``sqlite_epoch``."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return ((aware - _EPOCH) // _MICROSECOND) / 1e6


def dialect_insert(connection: Connection) -> Any:
    """The ``insert`` of ``connection``'s dialect (with ``on_conflict_do_nothing`` and
    ``on_conflict_do_update``), from the dialect package its engine has loaded already:
    a SQLite store does not import PostgreSQL's."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def from_epoch(seconds: float) -> datetime:
    """An engine time (float epoch seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def sqlite_epoch(seconds: float) -> float:
    """An engine time (float epoch seconds) as SQLite stores it: rounded to the
    microsecond, which a read gives back exactly as a datetime, and binding that datetime
    gives back this same number (``epoch_of``)."""
    return round(seconds * 1e6) / 1e6


def state_type(value: str | None) -> StateType:
    """A ``state_type`` column as the reads return it. A run without a state type yet
    (a row no version of the writer leaves, but the column allows it) is Pending."""
    return StateType.PENDING if value is None else StateType(value)


def isoformat(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def dumps(value: Any) -> str:
    """JSON for a column; never fails, so one odd parameter cannot block a whole batch.

    Values JSON cannot express (a DataFrame passed as a flow parameter, a set, a path)
    are stored as their (truncated) ``repr``; NaN and infinities, which PostgreSQL's
    JSON types reject, are stored as strings.
    """
    try:
        return json.dumps(value, default=_fallback, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), default=_fallback, separators=(",", ":"))


def _fallback(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
