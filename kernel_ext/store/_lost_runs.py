"""Flow runs whose process is gone: beaten while they execute, found and ended Crashed.

A process beats the flow runs it executes (``kernel_ext._heartbeats``); a deployment run
is beaten by its worker instead (``_claims``). A run whose last sign of life (its
heartbeat, else its creation) is older than the window is lost: it becomes Crashed, with
its unfinished task runs, and its pending pauses expire, in one transaction, so nobody
answers a form that no process waits on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import FINAL_TYPE_VALUES, Crashed, State, StateType
from kernel_ext.store._claims import silent_since
from kernel_ext.store._deployment_runs import BUSY, set_run_state
from kernel_ext.store._reads import find_flow_run, flow_run_record
from kernel_ext.store._tables import flow_runs, state_history, task_runs
from kernel_ext.store._types import from_epoch
from kernel_ext.store.records import FlowRunRecord

__all__ = ["beat_flow_runs", "crash_lost_run", "end_unfinished_task_runs", "find_lost_runs"]

# A process's runs: Pending, Running, Cancelling, and Paused (a kernel waiting for input).
_LIVE = (*BUSY, StateType.PAUSED)
_LIVE_VALUES = tuple(kind.value for kind in _LIVE)


def beat_flow_runs(connection: Connection, run_ids: Sequence[str], now: float) -> int:
    """Record that this process still executes ``run_ids``; how many rows were beaten."""
    if not run_ids:
        return 0
    statement = (
        update(flow_runs)
        .where(flow_runs.c.id.in_(list(run_ids)), flow_runs.c.deployment_id.is_(None))
        .where(flow_runs.c.state_type.not_in(FINAL_TYPE_VALUES))
        .values(heartbeat_at=from_epoch(now))
    )
    return int(connection.execute(statement).rowcount)


def find_lost_runs(
    connection: Connection, now: float, window: float, limit: int
) -> list[FlowRunRecord]:
    """Flow runs outside deployments, not finished, without a sign of life in ``window``
    seconds; oldest sign first."""
    query = (
        silent_since(now - window)
        .where(flow_runs.c.deployment_id.is_(None), flow_runs.c.state_type.in_(_LIVE_VALUES))
        .limit(max(limit, 0))
    )
    return [flow_run_record(row) for row in connection.execute(query).mappings()]


def crash_lost_run(
    connection: Connection, run_id: FlowRunId, message: str, silent_since: float
) -> FlowRunRecord | None:
    """End a lost run Crashed, with its unfinished task runs; expire its pending pauses.
    A run that beat after ``silent_since`` (since it was found) is left alone; None if
    the run is gone."""
    last_sign = connection.execute(
        select(func.coalesce(flow_runs.c.heartbeat_at, flow_runs.c.created))
        .where(flow_runs.c.id == run_id)
        .with_for_update()
    ).scalar()
    if last_sign is None:  # deleted since it was found
        return None
    if last_sign >= from_epoch(silent_since):  # typed: an aware UTC datetime
        return find_flow_run(connection, run_id)
    record = set_run_state(connection, run_id, Crashed(message), only_from=_LIVE)
    if record["state_type"] != StateType.CRASHED:
        return record  # it finished (or came back) meanwhile
    end_unfinished_task_runs(connection, run_id, Crashed(message))
    return record  # set_run_state expired its pending pauses


def end_unfinished_task_runs(connection: Connection, flow_run_id: FlowRunId, state: State) -> int:
    """Every task run of ``flow_run_id`` not yet final ends in ``state`` (history too);
    how many there were."""
    now = from_epoch(state.timestamp)
    unfinished = (
        connection.execute(
            select(task_runs.c.id)
            .where(task_runs.c.flow_run_id == flow_run_id)
            .where(task_runs.c.state_type.not_in(FINAL_TYPE_VALUES))
            .with_for_update()
        )
        .scalars()
        .all()
    )
    if not unfinished:
        return 0
    connection.execute(
        update(task_runs)
        .where(task_runs.c.id.in_(unfinished))
        .values(
            state_type=state.type.value,
            state_name=state.name,
            state_message=state.message,
            end_time=now,
        )
    )
    connection.execute(
        insert(state_history),
        [
            {
                "run_id": task_run_id,
                "run_kind": "task",
                "type": state.type.value,
                "name": state.name,
                "timestamp": now,
                "message": state.message,
                "details": state.details,
            }
            for task_run_id in unfinished
        ],
    )
    return len(unfinished)
