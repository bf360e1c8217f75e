"""Compact SQLite times: epoch seconds instead of ISO text; no index on a task's cache key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

On SQLite every time column now holds epoch seconds (a REAL, rounded to the microsecond)
where it held naive UTC text: 8 bytes instead of 26 in each row and index entry, and
nothing for the writer to format. The columns keep their declared type; the values are
converted in place, one pass per table (a text that is not a time is left as it is).
PostgreSQL keeps ``timestamptz`` and changes nothing but the index.

``ix_task_runs_cache_key`` went unused (a cache is looked up in ``results``) while every
task run paid for an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every time column at 0009, by table.
_TIMES: dict[str, tuple[str, ...]] = {
    "artifacts": ("created", "updated"),
    "automation_buckets": ("opened", "closes"),
    "automation_evaluator": ("lease_until", "updated"),
    "automation_firings": ("fired", "claimed_until", "finished"),
    "automations": ("created", "updated"),
    "concurrency_leases": ("acquired_at", "expires_at"),
    "concurrency_limits": ("next_free_at", "created", "updated"),
    "deployment_versions": ("created",),
    "deployments": ("created", "updated"),
    "events": ("occurred",),
    "flow_runs": ("start_time", "end_time", "created", "scheduled_time", "heartbeat_at"),
    "logs": ("timestamp",),
    "results": ("created", "expiration"),
    "run_inputs": ("answered_at", "created", "timeout_at"),
    "schedules": ("last_slot", "created"),
    "secrets": ("created", "updated"),
    "state_history": ("timestamp",),
    "store_settings": ("updated",),
    "task_runs": ("start_time", "end_time", "created"),
    "variables": ("created", "updated"),
    "writer_batches": ("created",),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _epoch(value: object) -> object:
    """A stored naive-UTC text time as epoch seconds; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ((moment - _EPOCH) // _MICROSECOND) / 1e6


def _text(value: object) -> object:
    """Epoch seconds as the naive-UTC text 0009 stored; anything else as it is."""
    if not isinstance(value, (int, float)):
        return value
    moment = datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    return moment.isoformat(" ", timespec="microseconds")


def _convert(function: object, name: str) -> None:
    bind = op.get_bind()
    raw = bind.connection.driver_connection
    assert raw is not None
    raw.create_function(name, 1, function, deterministic=True)
    for table, columns in _TIMES.items():
        changes = ", ".join(f'"{column}" = {name}("{column}")' for column in columns)
        bind.exec_driver_sql(f'UPDATE "{table}" SET {changes}')


def upgrade() -> None:
    op.drop_index("ix_task_runs_cache_key", "task_runs")
    if op.get_bind().dialect.name == "sqlite":
        _convert(_epoch, "taskbook_epoch")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _convert(_text, "taskbook_text")
    op.create_index("ix_task_runs_cache_key", "task_runs", ["cache_key"])
