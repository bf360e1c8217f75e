"""What an operator does to a finished run: delete it, or run a deployment run again.

Deleting removes the run and everything recorded under it, in one transaction: its task
runs, their subflows (and theirs), the state history, the log lines, the result index
entries (the result files stay: a cache hit may still use them elsewhere), its input
requests and its artifacts. Only a finished run can be deleted; a running one is cancelled first.
``delete_subtrees`` does the same for many runs at once (the retention policy's batches, see
``_retention``, which then remove the result files no remaining row points at).

Retrying a deployment run that failed, crashed or was cancelled queues it again with the
same id, due now, as a crash's automatic retry does: its kernel executes the notebook
again, and the ``%%task`` cells that finished before come back from their persisted
results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Column, ColumnElement, Table, and_, delete, select
from sqlalchemy.engine import Connection

from kernel_ext._errors import RunStateConflict
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import FINAL_TYPE_VALUES, Scheduled, StateType
from kernel_ext.store._artifact_rows import delete_run_artifacts
from kernel_ext.store._deployment_runs import set_run_state
from kernel_ext.store._reads import find_flow_run, run_not_found
from kernel_ext.store._tables import flow_runs, logs, results, run_inputs, state_history, task_runs
from kernel_ext.store.records import DeletedRun, FlowRunRecord

__all__ = [
    "RETRYABLE",
    "RemovedRows",
    "delete_flow_run",
    "delete_subtrees",
    "live_cache",
    "retry_flow_run",
    "run_subtree",
    "run_subtrees",
]


class RemovedRows(TypedDict):
    """How many rows of each kind went with the runs deleted."""

    subflows: int
    task_runs: int
    states: int
    log_lines: int
    results: int
    input_requests: int
    artifacts: int


# What a run can be retried from: it ended without completing.
RETRYABLE = (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)


def delete_flow_run(connection: Connection, run_id: FlowRunId) -> DeletedRun:
    _lock(connection, run_id)  # a retry or a claim waits for this delete, or wins before it
    record = find_flow_run(connection, run_id)
    if record is None:
        raise run_not_found("flow run", run_id)
    if record["state_type"].value not in FINAL_TYPE_VALUES:
        raise RunStateConflict(
            f"Run {run_id[:8]} is {record['state']}; cancel it (`taskbook runs cancel "
            f"{run_id[:8]}`) and delete it once it has ended.",
            run_id=run_id,
            state=record["state"],
        )
    removed = delete_subtrees(connection, *run_subtree(connection, run_id))
    return {"run": record, **removed, "subflows": max(removed["subflows"] - 1, 0)}


def delete_subtrees(
    connection: Connection,
    flows: list[str],
    tasks: list[str],
    keep_cached_after: datetime | None = None,
) -> RemovedRows:
    """Delete the flow runs and task runs given (whole subtrees, see ``run_subtrees``) and
    what is recorded under them; ``subflows`` counts every flow run deleted. With
    ``keep_cached_after``, the result index entries of a cache that still holds then
    stay (a later run's cache hit reads them; pruning keeps them and their files)."""
    # Children first, so nothing is left pointing at a row that is gone.
    task_count = _delete(connection, task_runs, task_runs.c.id, tasks)
    lines = _delete(connection, logs, logs.c.flow_run_id, flows)
    lines += _delete(connection, logs, logs.c.task_run_id, tasks)
    return {
        "task_runs": task_count,
        "log_lines": lines,
        "results": _delete_results(connection, tasks, keep_cached_after),
        "input_requests": _delete(connection, run_inputs, run_inputs.c.flow_run_id, flows),
        "artifacts": _delete_artifacts(connection, flows),
        "states": _delete(connection, state_history, state_history.c.run_id, flows + tasks),
        "subflows": _delete(connection, flow_runs, flow_runs.c.id, flows),
    }


def retry_flow_run(connection: Connection, run_id: FlowRunId) -> FlowRunRecord:
    record = find_flow_run(connection, run_id)
    if record is None:
        raise run_not_found("flow run", run_id)
    if record["deployment_id"] is None:
        raise RunStateConflict(
            f"Run {run_id[:8]} is not a deployment's run: call its flow again instead.",
            run_id=run_id,
            state=record["state"],
        )
    if record["deployment_name"] is None:  # its deployment was deleted: nothing would claim it
        raise RunStateConflict(
            f"Run {run_id[:8]} belongs to a deployment that was deleted; promote the notebook "
            "again and start a new run.",
            run_id=run_id,
            state=record["state"],
        )
    if record["state_type"] not in RETRYABLE:
        raise RunStateConflict(
            f"Run {run_id[:8]} is {record['state']}; only a run that failed, crashed or was "
            "cancelled can be retried.",
            run_id=run_id,
            state=record["state"],
        )
    again = Scheduled("Retried by hand", name="AwaitingRetry")
    retried = set_run_state(connection, run_id, again, only_from=RETRYABLE, due=again.timestamp)
    if retried["state_type"] != StateType.SCHEDULED:  # it changed meanwhile
        raise RunStateConflict(
            f"Run {run_id[:8]} became {retried['state']} meanwhile; it was not retried.",
            run_id=run_id,
            state=retried["state"],
        )
    return retried


def _lock(connection: Connection, run_id: str) -> None:
    """Hold the run's row until the transaction ends (PostgreSQL; SQLite's write
    transactions already exclude each other)."""
    query = select(flow_runs.c.id).where(flow_runs.c.id == run_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    connection.execute(query)


def run_subtree(connection: Connection, run_id: str) -> tuple[list[str], list[str]]:
    """The run with its subflows (at any depth), and all their task runs."""
    return run_subtrees(connection, [run_id])


def run_subtrees(connection: Connection, run_ids: list[str]) -> tuple[list[str], list[str]]:
    """The runs with their subflows (at any depth), and all their task runs."""
    flows, tasks, frontier = list(run_ids), [], list(run_ids)
    while frontier:
        found = _ids_where(connection, task_runs.c.id, task_runs.c.flow_run_id, frontier)
        tasks.extend(found)
        frontier = _ids_where(connection, flow_runs.c.id, flow_runs.c.parent_task_run_id, found)
        flows.extend(frontier)
    return flows, tasks


def _ids_where(
    connection: Connection, wanted: Column[Any], column: Column[Any], values: list[str]
) -> list[str]:
    """``wanted`` of the rows whose ``column`` is one of ``values``, a chunk at a time (a
    statement takes at most 65,535 parameters on PostgreSQL, 32,766 on SQLite)."""
    found: list[str] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        found.extend(connection.execute(select(wanted).where(column.in_(chunk))).scalars())
    return found


_CHUNK = 500  # ids per statement: SQLite's variable limit is far above, and plans stay small


def _delete_artifacts(connection: Connection, flows: list[str]) -> int:
    return sum(
        delete_run_artifacts(connection, flows[start : start + _CHUNK])
        for start in range(0, len(flows), _CHUNK)
    )


def live_cache(moment: datetime) -> ColumnElement[bool]:
    """The result index entries of a cache that holds until a time still to come at
    ``moment`` (``cache_expiration``). One without an expiration is not kept: most are
    keyed by their run (Prefect's default policy) and no later run could hit them."""
    return and_(
        results.c.cache_key.is_not(None),
        results.c.expiration.is_not(None),
        results.c.expiration > moment,
    )


def _delete_results(
    connection: Connection, tasks: list[str], keep_cached_after: datetime | None
) -> int:
    if keep_cached_after is None:
        return _delete(connection, results, results.c.task_run_id, tasks)
    removed = 0
    kept = live_cache(keep_cached_after)
    for start in range(0, len(tasks), _CHUNK):
        chunk = tasks[start : start + _CHUNK]
        statement = delete(results).where(results.c.task_run_id.in_(chunk), ~kept)
        removed += connection.execute(statement).rowcount or 0
    return removed


def _delete(connection: Connection, table: Table, column: Column[Any], ids: list[str]) -> int:
    removed = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        removed += connection.execute(delete(table).where(column.in_(chunk))).rowcount or 0
    return removed
