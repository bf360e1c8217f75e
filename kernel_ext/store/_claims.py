"""Workers claiming due runs, beating their heartbeat, and the runs whose worker died.

A claim takes the oldest due run (state type SCHEDULED, ``scheduled_time <= now``) of a
deployment that is not paused and, unless told otherwise, has fewer runs Pending, Running
or Cancelling than its ``concurrency_limit``. It moves the run to Pending ("Claimed by
<worker>") with the worker's id and a first heartbeat, in the transaction that chose it.

Exactly one worker gets each run, however many race:

- PostgreSQL: the candidate is read with ``FOR UPDATE SKIP LOCKED``, so concurrent claims
  lock different runs without waiting for each other. A deployment with a limit is
  locked too (``SELECT ... FOR UPDATE`` on its row) before its busy runs are counted
  again, so two workers cannot both take its last free place.
- SQLite: write transactions are ``BEGIN IMMEDIATE`` and so run one at a time; the
  update is still guarded (``WHERE state_type = 'SCHEDULED'``) and the next candidate
  is tried if it changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, not_, or_, select, update
from sqlalchemy.engine import Connection

from kernel_ext._states import FINAL_TYPES, StateType
from kernel_ext.store._deployment_runs import append_history
from kernel_ext.store._reads import find_flow_run, flow_run_record, flow_runs_query
from kernel_ext.store._tables import deployments, flow_runs
from kernel_ext.store._types import from_epoch

__all__ = ["BUSY", "claim_next_run", "find_dead_runs", "heartbeat"]

Record = dict[str, Any]

# The states of a run that holds a worker (and a place of its deployment's limit).
BUSY = (StateType.PENDING.value, StateType.RUNNING.value, StateType.CANCELLING.value)
_SCHEDULED = StateType.SCHEDULED.value
_FINAL = [t.value for t in FINAL_TYPES]


def claim_next_run(
    connection: Connection, worker_id: str, now: float, deployment_limits: bool
) -> Record | None:
    moment = from_epoch(now)
    postgres = connection.dialect.name == "postgresql"
    lost: list[str] = []  # runs another worker changed under us (SQLite: never)
    full: list[str] = []  # deployments found at their limit once locked
    while True:
        query = _candidate(moment, deployment_limits, lost, full)
        if postgres:
            query = query.with_for_update(of=flow_runs, skip_locked=True)
        candidate = connection.execute(query).first()
        if candidate is None:
            return None
        limit = candidate.concurrency_limit
        if postgres and deployment_limits and limit is not None:
            if not _has_room(connection, candidate.deployment_id, limit):
                full.append(candidate.deployment_id)
                continue
        if _take(connection, candidate.id, worker_id, moment):
            return find_flow_run(connection, candidate.id)
        lost.append(candidate.id)


def heartbeat(connection: Connection, run_id: str, worker_id: str, now: float) -> bool:
    """Record that ``worker_id`` still executes the run; False if the run is no longer
    its own or already final (e.g. marked Crashed meanwhile): the worker should stop."""
    statement = (
        update(flow_runs)
        .where(flow_runs.c.id == run_id, flow_runs.c.worker_id == worker_id)
        .where(flow_runs.c.state_type.not_in(_FINAL))
        .values(heartbeat_at=from_epoch(now))
    )
    return bool(connection.execute(statement).rowcount == 1)


def find_dead_runs(connection: Connection, now: float, grace_seconds: float) -> list[Record]:
    """Deployment runs held by a worker that has not beaten for ``grace_seconds``, oldest
    heartbeat first. A run never beaten is judged by when it was created."""
    last_sign = func.coalesce(flow_runs.c.heartbeat_at, flow_runs.c.created)
    query = (
        flow_runs_query()
        .where(flow_runs.c.deployment_id.is_not(None), flow_runs.c.state_type.in_(BUSY))
        .where(last_sign < from_epoch(now - grace_seconds))
        .order_by(last_sign, flow_runs.c.id)
    )
    return [flow_run_record(row) for row in connection.execute(query).mappings()]


def _candidate(
    moment: Any, deployment_limits: bool, lost: Sequence[str], full: Sequence[str]
) -> Select[Any]:
    query = (
        select(flow_runs.c.id, flow_runs.c.deployment_id, deployments.c.concurrency_limit)
        .select_from(flow_runs.join(deployments, deployments.c.id == flow_runs.c.deployment_id))
        .where(flow_runs.c.state_type == _SCHEDULED, flow_runs.c.scheduled_time <= moment)
        .where(not_(deployments.c.paused))
        .order_by(flow_runs.c.scheduled_time, flow_runs.c.created, flow_runs.c.id)
        .limit(1)
    )
    if deployment_limits:
        room = deployments.c.concurrency_limit > _busy_runs(deployments.c.id)
        query = query.where(or_(deployments.c.concurrency_limit.is_(None), room))
    if lost:
        query = query.where(flow_runs.c.id.not_in(lost))
    if full:
        query = query.where(flow_runs.c.deployment_id.not_in(full))
    return query


def _busy_runs(deployment_id: Any) -> Any:
    busy = flow_runs.alias("busy")
    return (
        select(func.count())
        .where(and_(busy.c.deployment_id == deployment_id, busy.c.state_type.in_(BUSY)))
        .scalar_subquery()
    )


def _has_room(connection: Connection, deployment_id: str, limit: int) -> bool:
    """Lock the deployment, then count its busy runs as committed now (PostgreSQL)."""
    lock = select(deployments.c.id).where(deployments.c.id == deployment_id).with_for_update()
    connection.execute(lock)
    # READ COMMITTED: this statement sees every claim committed while we waited.
    busy = connection.scalar(select(_busy_runs(deployment_id)))
    return int(busy or 0) < limit


def _take(connection: Connection, run_id: str, worker_id: str, moment: Any) -> bool:
    message = f"Claimed by {worker_id}"
    statement = (
        update(flow_runs)
        .where(flow_runs.c.id == run_id, flow_runs.c.state_type == _SCHEDULED)
        .values(
            state_type=StateType.PENDING.value,
            state_name="Pending",
            state_message=message,
            worker_id=worker_id,
            heartbeat_at=moment,
        )
    )
    if connection.execute(statement).rowcount != 1:
        return False
    append_history(connection, run_id, StateType.PENDING.value, "Pending", moment, message, None)
    return True
