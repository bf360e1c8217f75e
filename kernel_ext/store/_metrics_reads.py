"""The aggregates a Prometheus scrape reads: a few cheap queries, each bounded by an index.

Many processes write one store, so the metrics come from it rather than from one
process's counters. A scrape must stay fast however big the store grows, so every query
reads a range of an index and never the whole of a table:

    unfinished flow runs     state_type IN (...)             (state_type, scheduled_time)
    flow runs ended lately   state_type IN (final), end_time (state_type, end_time)
    task runs created lately created >= cutoff               task_runs (created)
    the queue and Late runs  SCHEDULED, scheduled_time <= now (state_type, scheduled_time)
    busy workers             state_type IN (busy)            (state_type, scheduled_time)

Finished runs are therefore counted over a window (an hour by default), not since the
store began: a count of every Completed run ever would scan the table on each scrape.
Task runs have no index on their state or end, so they are counted by creation within the
window (a task run that started before it is not counted). Durations are bucketed in SQL,
so a window of a hundred thousand runs costs one row per label set, not one per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, case, extract, func, select, type_coerce
from sqlalchemy.engine import Connection

from kernel_ext._states import BUSY_TYPES, FINAL_TYPE_VALUES, StateType
from kernel_ext.store._tables import deployments, flow_runs, task_runs
from kernel_ext.store._types import from_epoch, state_type
from kernel_ext.store.records import (
    DurationBuckets,
    QueueRecord,
    RunCount,
    StoreMetrics,
    WorkerRecord,
)

__all__ = ["read_metrics"]

_UNFINISHED_VALUES = tuple(sorted(t.value for t in StateType if t.value not in FINAL_TYPE_VALUES))
_BUSY_VALUES = tuple(t.value for t in BUSY_TYPES)
_SCHEDULED = StateType.SCHEDULED.value
_deployment_name = deployments.c.name.label("deployment")
_with_deployment = flow_runs.outerjoin(deployments, deployments.c.id == flow_runs.c.deployment_id)


def read_metrics(
    connection: Connection,
    now: float,
    window: float,
    flow_run_bounds: Sequence[float],
    task_run_bounds: Sequence[float],
) -> StoreMetrics:
    cutoff = from_epoch(now - window)
    seconds = _durations(connection.dialect.name)
    return {
        "window": window,
        "unfinished_flow_runs": _unfinished_flow_runs(connection),
        "ended_flow_runs": _ended_flow_runs(connection, cutoff),
        "recent_task_runs": _recent_task_runs(connection, cutoff),
        "flow_run_durations": _flow_run_durations(connection, cutoff, seconds, flow_run_bounds),
        "task_run_durations": _task_run_durations(connection, cutoff, seconds, task_run_bounds),
        "queues": _queues(connection, now),
        "workers": _workers(connection, now),
    }


def _counts(connection: Connection, query: Select[Any]) -> list[RunCount]:
    return [
        {"state_type": state_type(row.state_type), "deployment": row.deployment, "count": row.n}
        for row in connection.execute(query)
    ]


def _unfinished_flow_runs(connection: Connection) -> list[RunCount]:
    query = (
        select(flow_runs.c.state_type, _deployment_name, func.count().label("n"))
        .select_from(_with_deployment)
        .where(flow_runs.c.state_type.in_(_UNFINISHED_VALUES))
        .group_by(flow_runs.c.state_type, deployments.c.name)
    )
    return _counts(connection, query)


def _ended_flow_runs(connection: Connection, cutoff: datetime) -> list[RunCount]:
    query = (
        select(flow_runs.c.state_type, _deployment_name, func.count().label("n"))
        .select_from(_with_deployment)
        .where(flow_runs.c.state_type.in_(FINAL_TYPE_VALUES), flow_runs.c.end_time >= cutoff)
        .group_by(flow_runs.c.state_type, deployments.c.name)
    )
    return _counts(connection, query)


def _recent_task_runs(connection: Connection, cutoff: datetime) -> list[RunCount]:
    query = (
        select(task_runs.c.state_type, func.count().label("n"))
        .where(task_runs.c.created >= cutoff)
        .group_by(task_runs.c.state_type)
    )
    return [
        {"state_type": state_type(row.state_type), "deployment": None, "count": row.n}
        for row in connection.execute(query)
    ]


Seconds = Any  # (table) -> the SQL expression of a run's duration in seconds


def _durations(dialect: str) -> Seconds:
    """The duration of a run in SQL: SQLite keeps times as epoch seconds, PostgreSQL as
    timestamptz."""

    def seconds(table: Any) -> ColumnElement[Any]:
        if dialect == "sqlite":
            return type_coerce(table.c.end_time, Float) - type_coerce(table.c.start_time, Float)
        return extract("epoch", table.c.end_time - table.c.start_time)

    return seconds


def _bucket_columns(duration: ColumnElement[Any], bounds: Sequence[float]) -> list[Any]:
    """Count, sum, and how many took at most each bound: Prometheus's cumulative buckets."""
    return [
        func.count().label("n"),
        func.coalesce(func.sum(duration), 0.0).label("total"),
        *(
            func.sum(case((duration <= bound, 1), else_=0)).label(f"le{i}")
            for i, bound in enumerate(bounds)
        ),
    ]


def _buckets(row: Any, bounds: Sequence[float], deployment: str | None) -> DurationBuckets:
    return {
        "state_type": state_type(row.state_type),
        "deployment": deployment,
        "bounds": list(bounds),
        "cumulative": [int(getattr(row, f"le{i}") or 0) for i in range(len(bounds))],
        "count": int(row.n),
        "sum": float(row.total or 0.0),
    }


def _flow_run_durations(
    connection: Connection, cutoff: datetime, seconds: Seconds, bounds: Sequence[float]
) -> list[DurationBuckets]:
    query = (
        select(
            flow_runs.c.state_type, _deployment_name, *_bucket_columns(seconds(flow_runs), bounds)
        )
        .select_from(_with_deployment)
        .where(flow_runs.c.state_type.in_(FINAL_TYPE_VALUES), flow_runs.c.end_time >= cutoff)
        .where(flow_runs.c.start_time.is_not(None))
        .group_by(flow_runs.c.state_type, deployments.c.name)
    )
    return [_buckets(row, bounds, row.deployment) for row in connection.execute(query)]


def _task_run_durations(
    connection: Connection, cutoff: datetime, seconds: Seconds, bounds: Sequence[float]
) -> list[DurationBuckets]:
    query = (
        select(task_runs.c.state_type, *_bucket_columns(seconds(task_runs), bounds))
        .where(task_runs.c.created >= cutoff, task_runs.c.state_type.in_(FINAL_TYPE_VALUES))
        .where(task_runs.c.start_time.is_not(None), task_runs.c.end_time.is_not(None))
        .group_by(task_runs.c.state_type)
    )
    return [_buckets(row, bounds, None) for row in connection.execute(query)]


def _queues(connection: Connection, now: float) -> list[QueueRecord]:
    """Per deployment: its Scheduled runs due now (Late ones too, and retries whose delay
    is over) that no worker has claimed, how many are Late, and how long the oldest waits."""
    moment = from_epoch(now)
    query = (
        select(
            _deployment_name,
            func.count().label("due"),
            func.sum(case((flow_runs.c.state_name == "Late", 1), else_=0)).label("late"),
            func.min(flow_runs.c.scheduled_time).label("oldest"),
        )
        .select_from(flow_runs.join(deployments, deployments.c.id == flow_runs.c.deployment_id))
        .where(flow_runs.c.state_type == _SCHEDULED, flow_runs.c.scheduled_time <= moment)
        .group_by(deployments.c.name)
    )
    return [
        {
            "deployment": row.deployment,
            "due": int(row.due),
            "late": int(row.late or 0),
            "oldest_due_age": _age(now, row.oldest),
        }
        for row in connection.execute(query)
    ]


def _workers(connection: Connection, now: float) -> list[WorkerRecord]:
    """Workers holding a run (Pending, Running or Cancelling), with their latest beat.

    An idle worker beats nothing in the store, so it is not here: its own ``/metrics``
    endpoint answering is its sign of life."""
    query = (
        select(
            flow_runs.c.worker_id,
            func.count().label("runs"),
            func.max(flow_runs.c.heartbeat_at).label("beat"),
        )
        .where(flow_runs.c.state_type.in_(_BUSY_VALUES), flow_runs.c.worker_id.is_not(None))
        .group_by(flow_runs.c.worker_id)
    )
    return [
        {"worker_id": row.worker_id, "runs": int(row.runs), "heartbeat_age": _age(now, row.beat)}
        for row in connection.execute(query)
    ]


def _age(now: float, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, now - moment.timestamp())
