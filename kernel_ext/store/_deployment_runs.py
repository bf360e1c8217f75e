"""Runs of deployments outside the engine: created Scheduled, moved by the scheduler and
the workers, cancelled, linked to their output notebook.

Each call is a synchronous transaction that changes the run's row and appends to its
history together, so the history and the current state always agree. The kernel that
executes the run writes to the same row through the batched writer; that upsert leaves
the deployment columns, the name and the parameters alone (see ``_inserts``).

A scheduled slot gets at most one run: its ``slot_key`` is unique, and the insert is an
``INSERT ... ON CONFLICT (slot_key) DO NOTHING``, so of several schedulers creating the
same slot exactly one succeeds and the others get None.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.engine import Connection

from kernel_ext._errors import RunStateConflict
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import (
    BUSY_TYPES,
    FINAL_TYPE_VALUES,
    Cancelled,
    Cancelling,
    State,
    StateType,
)
from kernel_ext.store._input_requests import expire_requests_of_run, forget_expired_requests
from kernel_ext.store._limit_leases import release_run_slot
from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._reads import find_flow_run, run_not_found
from kernel_ext.store._tables import flow_runs, schedules, state_history
from kernel_ext.store._types import UTCDateTime, dialect_insert, from_epoch
from kernel_ext.store.records import FlowRunRecord

__all__ = [
    "BUSY",
    "BUSY_VALUES",
    "append_history",
    "create_scheduled_run",
    "request_cancel",
    "set_output_notebook",
    "set_run_state",
]

# The states of a run that holds a worker (and a slot of its deployment's limit).
BUSY = BUSY_TYPES
BUSY_VALUES = tuple(kind.value for kind in BUSY)


def create_scheduled_run(
    connection: Connection,
    *,
    id: str,
    deployment_id: str,
    deployment_version: int,
    name: str,
    flow_name: str,
    parameters: Mapping[str, Any],
    scheduled_time: float,
    schedule_id: str | None,
    slot_key: str | None,
    state: State,
) -> FlowRunRecord | None:
    if state.type is not StateType.SCHEDULED:
        raise ValueError(f"A new deployment run is Scheduled, not {state.type.value}.")
    # Under the deployment's lock, which deleting it or replacing its schedules holds
    # too; a schedule's slot only while the schedule is there (it may have gone since
    # the scheduler read it).
    deployment = find_deployment(connection, deployment_id, lock=True)
    if schedule_id is not None and not _schedule_exists(connection, schedule_id):
        return None
    now, when = datetime.now(UTC), from_epoch(scheduled_time)
    values = {
        "id": id,
        "name": name,
        "flow_name": flow_name,
        "parameters": dict(parameters),
        "tags": list(deployment.tags or ()),
        "state_type": StateType.SCHEDULED.value,
        "state_name": state.name,
        "state_message": state.message,
        "run_count": 0,
        "created": now,
        "deployment_id": deployment.id,
        "deployment_version": deployment_version,
        "schedule_id": schedule_id,
        "scheduled_time": when,
        "slot_key": slot_key,
    }
    if slot_key is None:
        connection.execute(insert(flow_runs).values(values))
    else:
        statement = dialect_insert(connection)(flow_runs).values(values)
        statement = statement.on_conflict_do_nothing(index_elements=["slot_key"])
        # RETURNING, not rowcount: drivers need not report the rowcount of an INSERT.
        if connection.execute(statement.returning(flow_runs.c.id)).first() is None:
            return None  # another scheduler created this slot's run first
    details = {**(state.details or {}), "scheduled_time": when.isoformat()}
    append_history(
        connection, id, State(state.type, state.name, state.message, details=details), now
    )
    return find_flow_run(connection, id)


def _schedule_exists(connection: Connection, schedule_id: str) -> bool:
    query = select(schedules.c.id).where(schedules.c.id == schedule_id)
    return connection.execute(query).first() is not None


def set_run_state(
    connection: Connection,
    run_id: FlowRunId,
    state: State,
    only_from: Collection[StateType] | None = None,
    attempt: tuple[str, int] | None = None,
    due: float | None = None,
) -> FlowRunRecord:
    """Move the run to ``state`` (at the state's time); with ``only_from``, only if its
    state type is one of those, and with ``attempt`` (worker id, run count), only while
    that attempt is the run's current one (otherwise the run is returned unchanged).
    ``due`` (epoch seconds) sets when a Scheduled run may be claimed, in the same update."""
    kind = state.type.value
    when = from_epoch(state.timestamp)
    values: dict[str, Any] = {
        "state_type": kind,
        "state_name": state.name,
        "state_message": state.message,
    }
    if due is not None:
        values["scheduled_time"] = from_epoch(due)
    if kind in FINAL_TYPE_VALUES:
        values["end_time"] = when
    elif kind == StateType.RUNNING.value:  # as the engine does: a new attempt starts
        # Typed: an untyped datetime binds as text, which SQLite would store as it is.
        values["start_time"] = func.coalesce(flow_runs.c.start_time, literal(when, UTCDateTime))
        values["end_time"] = None
        values["run_count"] = flow_runs.c.run_count + 1
    statement = update(flow_runs).where(flow_runs.c.id == run_id).values(values)
    if only_from is not None:
        statement = statement.where(flow_runs.c.state_type.in_([t.value for t in only_from]))
    if attempt is not None:
        statement = statement.where(
            flow_runs.c.worker_id == attempt[0], flow_runs.c.run_count == attempt[1]
        )
    if connection.execute(statement).rowcount == 1:
        append_history(connection, run_id, state, when)
        if kind in FINAL_TYPE_VALUES:  # nobody waits on its pauses any more
            expire_requests_of_run(connection, run_id)
        elif state.name == "AwaitingRetry":  # the retry asks again what went unanswered
            forget_expired_requests(connection, run_id)
    record = _read(connection, run_id)
    if record["state_type"] not in BUSY:  # it no longer holds its deployment's slot
        release_run_slot(connection, run_id)
    return record


def request_cancel(connection: Connection, run_id: FlowRunId) -> FlowRunRecord:
    """Cancel a run: at once if nothing executes it, else ask its worker (Cancelling)."""
    query = select(flow_runs.c.state_type, flow_runs.c.state_name).where(flow_runs.c.id == run_id)
    row = connection.execute(query.with_for_update()).first()
    if row is None:
        raise run_not_found("flow run", run_id)
    if row.state_type in FINAL_TYPE_VALUES:
        raise RunStateConflict(
            f"Run {run_id[:8]} is already {row.state_name}; only a run that has not "
            "finished can be cancelled.",
            run_id=run_id,
            state=row.state_name,
        )
    if row.state_type == StateType.CANCELLING.value:
        return _read(connection, run_id)
    # A Scheduled run has no worker yet, a Suspended one no kernel: nobody else would
    # finish the cancellation.
    idle = row.state_type == StateType.SCHEDULED.value or row.state_name == "Suspended"
    state = Cancelled("Cancelled before it ran.") if idle else Cancelling("Cancellation requested.")
    return set_run_state(connection, run_id, state)


def set_output_notebook(connection: Connection, run_id: FlowRunId, path: str) -> FlowRunRecord:
    statement = update(flow_runs).where(flow_runs.c.id == run_id).values(output_notebook=path)
    if connection.execute(statement).rowcount == 0:
        raise run_not_found("flow run", run_id)
    return _read(connection, run_id)


def append_history(connection: Connection, run_id: str, state: State, when: datetime) -> None:
    """Add ``state`` (at ``when``, its time as the store keeps it) to the flow run's
    history."""
    connection.execute(
        state_history.insert().values(
            run_id=run_id,
            run_kind="flow",
            type=state.type.value,
            name=state.name,
            timestamp=when,
            message=state.message,
            details=None if state.details is None else dict(state.details),
        )
    )


def _read(connection: Connection, run_id: str) -> FlowRunRecord:
    record = find_flow_run(connection, run_id)
    if record is None:
        raise run_not_found("flow run", run_id)
    return record
