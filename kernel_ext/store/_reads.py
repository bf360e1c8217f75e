"""Queries behind the store's read methods; each returns JSON-able dicts.

Times are ISO-8601 strings in UTC, durations are seconds, and a run's ``state`` is its
state *name* (``"Cached"``) with the type beside it (``state_type``: ``"COMPLETED"``).
A flow run also carries its deployment fields (``deployment_name``, ``scheduled_time``,
``worker_id``, ``output_notebook``, ...), all None unless a deployment made the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import RunNotFound
from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext._states import FAILED_TYPE_VALUES, StateType
from kernel_ext.store._tables import (
    deployments,
    flow_runs,
    logs,
    results,
    state_history,
    task_runs,
)
from kernel_ext.store._types import isoformat, state_type
from kernel_ext.store._writer import MAX_BATCH
from kernel_ext.store.records import (
    FailureRecord,
    FlowRunDetail,
    FlowRunRecord,
    LogRecord,
    ResultRecord,
    RunRecord,
    StateRecord,
    TaskRunDetail,
    TaskRunRecord,
)

__all__ = [
    "RunFilter",
    "find_flow_run",
    "find_runs",
    "flow_run_record",
    "flow_runs_query",
    "list_flow_runs",
    "list_orphan_task_runs",
    "list_task_runs",
    "lookup_result",
    "read_flow_run",
    "read_history",
    "read_logs",
    "read_task_run",
    "run_not_found",
]


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which flow runs a list shows (all given conditions hold)."""

    state: str | None = None  # a state name ("Late") or type ("FAILED"), any case
    name: str | None = None  # a flow name or run name, exactly
    search: str | None = None  # a part of the run's name or flow name, any case
    tag: str | None = None
    deployment: str | None = None  # a deployment's name or id
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    top_level: bool = False  # no subflows
    before: str | None = None  # a run id: only runs listed after it (the next page)
    parent: str | None = None  # a flow run's id: only its subflows (of its own task runs)
    ended_since: datetime | None = None  # ended at or after


def list_flow_runs(connection: Connection, limit: int, where: RunFilter) -> list[FlowRunRecord]:
    order = (flow_runs.c.created.desc(), flow_runs.c.id.desc())
    query = flow_runs_query().order_by(*order).limit(max(limit, 0))
    for condition in _conditions(connection, where):
        query = query.where(condition)
    return [flow_run_record(row) for row in connection.execute(query).mappings()]


def _conditions(connection: Connection, where: RunFilter) -> list[ColumnElement[bool]]:
    found = []
    if where.state is not None:
        found.append(_state_is(flow_runs, where.state))
    if where.name is not None:
        found.append(or_(flow_runs.c.flow_name == where.name, flow_runs.c.name == where.name))
    if where.search:
        pattern = "%" + _like_escaped(where.search.lower()) + "%"
        found.append(
            or_(
                func.lower(flow_runs.c.name).like(pattern, escape="/"),
                func.lower(flow_runs.c.flow_name).like(pattern, escape="/"),
            )
        )
    if where.tag is not None:
        found.append(_has_tag(connection, where.tag))
    if where.deployment is not None:
        named = or_(deployments.c.name == where.deployment, deployments.c.id == where.deployment)
        found.append(flow_runs.c.deployment_id.in_(select(deployments.c.id).where(named)))
    if where.since is not None:
        found.append(flow_runs.c.created >= where.since)
    if where.until is not None:
        found.append(flow_runs.c.created < where.until)
    if where.top_level:
        found.append(flow_runs.c.parent_task_run_id.is_(None))
    if where.before is not None:
        found.append(_listed_after(connection, where.before))
    if where.parent is not None:
        found.append(_subflow_of(connection, where.parent))
    if where.ended_since is not None:
        found.append(flow_runs.c.end_time >= where.ended_since)
    return found


def _subflow_of(connection: Connection, run_id: str) -> ColumnElement[bool]:
    """Flow runs called by a task run of flow run ``run_id``: both lookups are indexed
    (task_runs.flow_run_id, flow_runs.parent_task_run_id), however big the store."""
    if not _exists(connection, flow_runs, run_id):
        raise run_not_found("flow run", run_id)
    calls = select(task_runs.c.id).where(task_runs.c.flow_run_id == run_id)
    return flow_runs.c.parent_task_run_id.in_(calls)


def _has_tag(connection: Connection, tag: str) -> ColumnElement[bool]:
    """Tags are a JSON list of strings: the run has ``tag`` among them."""
    if connection.dialect.name == "postgresql":  # JSONB containment
        from sqlalchemy.dialects.postgresql import JSONB  # loaded with the dialect

        return flow_runs.c.tags.op("@>")(cast(literal(json.dumps([tag])), JSONB))
    items = func.json_each(flow_runs.c.tags).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == tag))


def _like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE (with ``escape="/"``)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _listed_after(connection: Connection, run_id: str) -> ColumnElement[bool]:
    """Runs older than ``run_id`` in the list's order (newest first): the next page."""
    cursor = connection.execute(
        select(flow_runs.c.created).where(flow_runs.c.id == run_id)
    ).scalar()
    if cursor is None:
        raise run_not_found("flow run", run_id)
    return or_(
        flow_runs.c.created < cursor,
        and_(flow_runs.c.created == cursor, flow_runs.c.id < run_id),
    )


# How far behind a read's cursor the next one looks again: on PostgreSQL a transaction
# can commit its history rows after a later one's were read, and a writer's batch holds
# up to MAX_BATCH of them.
_LATE_COMMITS = 2 * MAX_BATCH
_PROBED_RUNS = 5_000  # (probing costs about 1.7 us a task run, the range 7 ms)


def read_flow_run(
    connection: Connection, run_id: FlowRunId, changed_after: int | None = None
) -> FlowRunDetail:
    cursor = connection.scalar(select(func.max(state_history.c.id))) or 0
    record = find_flow_run(connection, run_id)
    if record is None:
        raise run_not_found("flow run", run_id)
    complete = changed_after is None or changed_after <= 0
    return {
        **record,
        "task_runs": (
            list_task_runs(connection, run_id)
            if complete
            else _changed_task_runs(connection, run_id, changed_after or 0, cursor)
        ),
        "failure": _failure(connection, run_id, record["state_type"]),
        "task_runs_cursor": cursor,
        "task_runs_complete": complete,
    }


def _changed_task_runs(
    connection: Connection, flow_run_id: FlowRunId, after: int, cursor: int
) -> list[TaskRunRecord]:
    """The flow run's task runs whose state changed after history id ``after`` (and up
    to ``cursor``). A run of up to ``_PROBED_RUNS`` task runs looks each of them up in the
    history's run index within that range of ids; a bigger one reads the range's rows
    (``_LATE_COMMITS`` of them, whatever the run's size: ten times a small run's whole
    read, a quarter of probing 100,000 task runs)."""
    of_run = task_runs.c.flow_run_id == flow_run_id
    in_range = (state_history.c.id > after - _LATE_COMMITS, state_history.c.id <= cursor)
    some = select(task_runs.c.id).where(of_run).limit(_PROBED_RUNS + 1).subquery()
    changed: ColumnElement[bool]
    if (connection.scalar(select(func.count()).select_from(some)) or 0) <= _PROBED_RUNS:
        changed = exists().where(state_history.c.run_id == task_runs.c.id, *in_range)
    else:
        recent = select(state_history.c.run_id).where(*in_range)
        changed = task_runs.c.id.in_(recent.where(state_history.c.run_kind == "task"))
    query = select(task_runs).where(of_run, changed).order_by(task_runs.c.created, task_runs.c.id)
    return [_task_run(r) for r in connection.execute(query).mappings()]


def list_task_runs(connection: Connection, flow_run_id: FlowRunId) -> list[TaskRunRecord]:
    """The task runs of a flow run, oldest first (none if it is unknown)."""
    query = (
        select(task_runs)
        .where(task_runs.c.flow_run_id == flow_run_id)
        .order_by(task_runs.c.created, task_runs.c.id)
    )
    return [_task_run(r) for r in connection.execute(query).mappings()]


def find_flow_run(connection: Connection, run_id: str) -> FlowRunRecord | None:
    """A flow run without its task runs, if there is one with this id."""
    query = flow_runs_query().where(flow_runs.c.id == run_id)
    found = connection.execute(query).mappings().first()
    return None if found is None else flow_run_record(found)


def read_task_run(connection: Connection, run_id: TaskRunId) -> TaskRunDetail:
    query = select(task_runs).where(task_runs.c.id == run_id)
    found = connection.execute(query).mappings().first()
    if found is None:
        raise run_not_found("task run", run_id)
    record = _task_run(found)
    return {**record, "failure": _failure(connection, run_id, record["state_type"])}


def _failure(connection: Connection, run_id: str, state_type: StateType) -> FailureRecord | None:
    """The details of a failed run's last failure (exception type, traceback, and for a
    deployment run the cell and the output notebook); None for a run that did not fail."""
    if state_type not in FAILED_TYPE_VALUES:
        return None
    query = (
        select(state_history.c.message, state_history.c.details)
        .where(state_history.c.run_id == run_id, state_history.c.type.in_(FAILED_TYPE_VALUES))
        .order_by(state_history.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return {"message": row.message, **(row.details or {})}


def list_orphan_task_runs(connection: Connection, limit: int) -> list[TaskRunRecord]:
    query = _newest_first(task_runs, limit).where(task_runs.c.flow_run_id.is_(None))
    return [_task_run(row) for row in connection.execute(query).mappings()]


def read_history(connection: Connection, run_id: str) -> list[StateRecord]:
    query = (
        select(state_history).where(state_history.c.run_id == run_id).order_by(state_history.c.id)
    )
    history: list[StateRecord] = [
        {
            "type": state_type(row.type),
            "name": row.name,
            "timestamp": isoformat(row.timestamp),
            "message": row.message,
            "details": row.details,
        }
        for row in connection.execute(query)
    ]
    if not history:
        raise run_not_found("flow or task run", run_id)
    return history


def read_logs(
    connection: Connection,
    run_id: str,
    include_task_runs: bool,
    after: int | None = None,
    tail: int | None = None,
    min_level: int | None = None,
    limit: int | None = None,
) -> list[LogRecord]:
    """The run's log lines in time order; with ``after`` (a line's ``id``) only the lines
    written after that one, in the order they were written; with ``tail`` only the last
    ones; with ``limit`` only the first ones (with both, the last ``tail`` of the
    first ``limit``); with ``min_level`` only lines at that
    level or above.

    A flow run's lines are those it logged and those of its task runs (also when the
    engine left a task's line without its flow run): two queries that each use an index,
    united, rather than one OR that a planner can only answer by scanning the log.
    """
    parts = []
    for condition in _lines_of(connection, run_id, include_task_runs):
        part = select(logs).where(condition)
        if after is not None:
            part = part.where(logs.c.id > after)
        if min_level is not None:
            part = part.where(logs.c.level >= min_level)
        parts.append(part)
    lines = parts[0].subquery() if len(parts) == 1 else union(*parts).subquery()
    order = (lines.c.id,) if after is not None else (lines.c.timestamp, lines.c.id)
    query = select(lines)
    if limit is not None:  # the first lines (a follower's next page)
        first = [
            _log(row)
            for row in connection.execute(query.order_by(*order).limit(max(limit, 0))).mappings()
        ]
        return first if tail is None else first[max(len(first) - tail, 0) :]
    if tail is None:
        return [_log(row) for row in connection.execute(query.order_by(*order)).mappings()]
    newest = query.order_by(*(column.desc() for column in order)).limit(max(tail, 0))
    return [_log(row) for row in connection.execute(newest).mappings()][::-1]


def _lines_of(
    connection: Connection, run_id: str, include_task_runs: bool
) -> list[ColumnElement[bool]]:
    if _exists(connection, flow_runs, run_id):
        if not include_task_runs:
            return [and_(logs.c.flow_run_id == run_id, logs.c.task_run_id.is_(None))]
        tasks = select(task_runs.c.id).where(task_runs.c.flow_run_id == run_id)
        return [logs.c.flow_run_id == run_id, logs.c.task_run_id.in_(tasks)]
    if _exists(connection, task_runs, run_id):
        return [logs.c.task_run_id == run_id]
    raise run_not_found("flow or task run", run_id)


def find_runs(connection: Connection, prefix: str, limit: int) -> list[str]:
    """Ids of flow runs, then task runs, that start with ``prefix``."""
    query = union_all(
        _ids_with_prefix(flow_runs, prefix, 0), _ids_with_prefix(task_runs, prefix, 1)
    )
    ordered = select(query.subquery()).order_by("kind", "id").limit(max(limit, 0))
    return [row.id for row in connection.execute(ordered)]


def lookup_result(connection: Connection, cache_key: str) -> ResultRecord | None:
    now = datetime.now(UTC)
    query = (
        select(results)
        .where(results.c.cache_key == cache_key)
        .where(or_(results.c.expiration.is_(None), results.c.expiration > now))
        .order_by(results.c.created.desc(), results.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return {
        "task_run_id": row.task_run_id,
        "cache_key": row.cache_key,
        "location": row.location,
        "created": isoformat(row.created),
        "expiration": isoformat(row.expiration),
    }


def _newest_first(table: Table, limit: int) -> Select[Any]:
    order = (table.c.created.desc(), table.c.id.desc())
    return select(table).order_by(*order).limit(max(limit, 0))


def _state_is(table: Table, state: str) -> ColumnElement[bool]:
    # "completed", "Completed" and "COMPLETED" all work; a type matches all its names.
    return or_(func.lower(table.c.state_name) == state.lower(), table.c.state_type == state.upper())


def _ids_with_prefix(table: Table, prefix: str, kind: int) -> Select[Any]:
    return select(table.c.id, literal(kind, Integer).label("kind")).where(
        table.c.id.startswith(prefix, autoescape=True)
    )


def _exists(connection: Connection, table: Table, run_id: str) -> bool:
    return connection.scalar(select(table.c.id).where(table.c.id == run_id)) is not None


def _run(row: RowMapping) -> RunRecord:
    start, end = row.start_time, row.end_time
    return {
        "name": row.name,
        "state": row.state_name,
        "state_type": state_type(row.state_type),
        "state_message": row.state_message,
        "start_time": isoformat(start),
        "end_time": isoformat(end),
        "duration": (end - start).total_seconds() if start and end else None,
        "run_count": row.run_count,
        "tags": list(row.tags or ()),
        "created": isoformat(row.created),
    }


def flow_runs_query() -> Select[Any]:
    """Flow runs with the name of their deployment, for ``flow_run_record``."""
    return select(flow_runs, deployments.c.name.label("deployment_name")).select_from(
        flow_runs.outerjoin(deployments, deployments.c.id == flow_runs.c.deployment_id)
    )


def flow_run_record(row: RowMapping) -> FlowRunRecord:
    """A row of ``flow_runs_query`` as the readers return it."""
    return {
        "id": row.id,
        **_run(row),
        "flow_name": row.flow_name,
        "parameters": row.parameters or {},
        "parent_task_run_id": row.parent_task_run_id,
        "deployment_id": row.deployment_id,
        "deployment_name": row.deployment_name,
        "deployment_version": row.deployment_version,
        "schedule_id": row.schedule_id,
        "slot_key": row.slot_key,
        "scheduled_time": isoformat(row.scheduled_time),
        "worker_id": row.worker_id,
        "heartbeat_at": isoformat(row.heartbeat_at),
        "output_notebook": row.output_notebook,
    }


def _task_run(row: RowMapping) -> TaskRunRecord:
    return {
        "id": row.id,
        **_run(row),
        "task_key": row.task_key,
        "flow_run_id": row.flow_run_id,
        "upstream": list(row.upstream or ()),
        "cache_key": row.cache_key,
    }


def _log(row: RowMapping) -> LogRecord:
    return {
        "timestamp": isoformat(row.timestamp),
        "level": row.level,
        "level_name": logging.getLevelName(row.level),
        "logger": row.logger,
        "message": row.message,
        "flow_run_id": row.flow_run_id,
        "task_run_id": row.task_run_id,
        "id": row.id,
    }


def run_not_found(what: str, run_id: str) -> RunNotFound:
    return RunNotFound(
        f"No {what} has the id {run_id!r} in this store; list the runs with `taskbook runs ls`.",
        run_id=run_id,
    )
