"""Column types and value conversions shared by the tables, the writer and the readers.

Times are stored as timezone-aware UTC: ``timestamptz`` on PostgreSQL, and on SQLite
(which has no time zones) as naive UTC text that sorts chronologically.
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
    "sqlite_text",
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
_EPOCH = datetime(1970, 1, 1)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on the way out, whatever the backend returns.

    The writer encodes its times itself (see ``_rows``); queries bind aware datetimes,
    which both backends store correctly without help.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


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


def sqlite_text(seconds: float) -> str:
    """An engine time as SQLAlchemy stores a DATETIME in SQLite: naive UTC text.

    Always with microseconds, so the text sorts (and compares in queries) as time does.
    Rounds like ``datetime.fromtimestamp``. The date and time of day come from a small
    cache: a batch's times share a few seconds, and formatting them dominated the
    writer's cost of building rows.
    """
    whole = math.floor(seconds)
    micros = round((seconds - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_second_text(whole)}.{micros:06d}"


@functools.lru_cache(maxsize=256)
def _second_text(whole: int) -> str:
    return (_EPOCH + timedelta(seconds=whole)).isoformat(" ")


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
