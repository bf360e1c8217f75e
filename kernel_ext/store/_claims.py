"""Workers claiming due runs, beating their heartbeat, and the runs whose worker died.

A claim takes the oldest due run (state type SCHEDULED, ``scheduled_time <= now``) of a
deployment that is not paused and, unless told otherwise, has a free slot of its
concurrency limit. It moves the run to Pending ("Claimed by <worker>") with the worker's
id and a first heartbeat, in the transaction that chose it.

A deployment's ``concurrency_limit`` is the limit ``deployment:<name>`` of the store's
concurrency limits (``_limit_leases``), the same leased slots that ``concurrency()`` blocks and
tagged task runs take: the claim leases one slot to the run, each heartbeat renews it, and
it is given back when the run leaves Pending/Running/Cancelling (``set_run_state``) or,
if its worker dies, when the lease expires. ``taskbook limits ls`` shows them all.

Exactly one worker gets each run, however many race:

- PostgreSQL: the candidate is read with ``FOR UPDATE SKIP LOCKED``, so concurrent claims
  lock different runs without waiting for each other. A deployment with a limit has its
  limit row locked too (``SELECT ... FOR UPDATE``) before its leases are counted again,
  so two workers cannot both take its last free slot.
- SQLite: write transactions are ``BEGIN IMMEDIATE`` and so run one at a time; the
  update is still guarded (``WHERE state_type = 'SCHEDULED'``) and the next candidate
  is tried if it changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, not_, or_, select, update
from sqlalchemy.engine import Connection

from kernel_ext._states import FINAL_TYPE_VALUES, Pending, StateType
from kernel_ext.store._deployment_runs import BUSY_VALUES, append_history
from kernel_ext.store._limit_leases import (
    deployment_has_room,
    deployment_slots_used,
    has_run_slot,
    hold_run_slot,
    renew_run_slot,
)
from kernel_ext.store._reads import find_flow_run, flow_run_record, flow_runs_query
from kernel_ext.store._tables import deployments, flow_runs
from kernel_ext.store._types import from_epoch
from kernel_ext.store.records import LEASE_SECONDS, FlowRunRecord

__all__ = ["LEASE_SECONDS", "claim_next_run", "find_dead_runs", "heartbeat", "silent_since"]

_SCHEDULED = StateType.SCHEDULED.value


def claim_next_run(
    connection: Connection,
    worker_id: str,
    now: float,
    deployment_limits: bool,
    lease_seconds: float = LEASE_SECONDS,
    only: Sequence[str] | None = None,
) -> FlowRunRecord | None:
    moment = from_epoch(now)
    lost: list[str] = []  # runs another worker changed under us (SQLite: never)
    full: list[str] = []  # deployments found at their limit once locked
    while True:
        query = _candidate(moment, deployment_limits, lost, full, only)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(of=flow_runs, skip_locked=True)
        candidate = connection.execute(query).first()
        if candidate is None:
            return None
        limited = deployment_limits and candidate.concurrency_limit is not None
        if limited and not deployment_has_room(
            connection, candidate.deployment_name, candidate.concurrency_limit, now
        ):
            full.append(candidate.deployment_id)
            continue
        if not _take(connection, candidate.id, worker_id, moment):
            lost.append(candidate.id)
            continue
        if limited:
            hold_run_slot(
                connection,
                candidate.deployment_name,
                candidate.id,
                worker_id,
                now,
                lease_seconds,
            )
        return find_flow_run(connection, candidate.id)


def heartbeat(
    connection: Connection,
    run_id: str,
    worker_id: str,
    now: float,
    lease_seconds: float = LEASE_SECONDS,
) -> bool:
    """Record that ``worker_id`` still executes the run (and renew its slot); False if the
    run is no longer its own or already final (e.g. marked Crashed meanwhile), or lost
    its deployment slot to another run: the worker should stop."""
    statement = (
        update(flow_runs)
        .where(flow_runs.c.id == run_id, flow_runs.c.worker_id == worker_id)
        .where(flow_runs.c.state_type.not_in(FINAL_TYPE_VALUES))
        .values(heartbeat_at=from_epoch(now))
    )
    alive = bool(connection.execute(statement).rowcount == 1)
    if not alive or renew_run_slot(connection, run_id, now, lease_seconds):
        return alive
    if not has_run_slot(connection, run_id):
        return True  # its deployment has no limit (or had none when it was claimed)
    # Its slot expired (beats stalled longer than the lease) and may have gone to another
    # run: take one again if there is room, else the run must stop.
    row = connection.execute(
        select(deployments.c.name, deployments.c.concurrency_limit)
        .select_from(flow_runs.join(deployments, deployments.c.id == flow_runs.c.deployment_id))
        .where(flow_runs.c.id == run_id)
    ).first()
    if row is None or row.concurrency_limit is None:
        return True
    if not deployment_has_room(connection, row.name, row.concurrency_limit, now):
        return False
    hold_run_slot(connection, row.name, run_id, worker_id, now, lease_seconds)
    return True


def find_dead_runs(connection: Connection, now: float, grace_seconds: float) -> list[FlowRunRecord]:
    """Deployment runs held by a worker that has not beaten for ``grace_seconds``, oldest
    heartbeat first. A run never beaten is judged by when it was created."""
    query = silent_since(now - grace_seconds).where(
        flow_runs.c.deployment_id.is_not(None), flow_runs.c.state_type.in_(BUSY_VALUES)
    )
    return [flow_run_record(row) for row in connection.execute(query).mappings()]


def silent_since(moment: float) -> Select[Any]:
    """Flow runs whose last sign of life (heartbeat, else creation) is before ``moment``,
    oldest sign first."""
    last_sign = func.coalesce(flow_runs.c.heartbeat_at, flow_runs.c.created)
    return (
        flow_runs_query().where(last_sign < from_epoch(moment)).order_by(last_sign, flow_runs.c.id)
    )


def _candidate(
    moment: Any,
    deployment_limits: bool,
    lost: Sequence[str],
    full: Sequence[str],
    only: Sequence[str] | None = None,
) -> Select[Any]:
    query = (
        select(
            flow_runs.c.id,
            flow_runs.c.deployment_id,
            deployments.c.name.label("deployment_name"),
            deployments.c.concurrency_limit,
        )
        .select_from(flow_runs.join(deployments, deployments.c.id == flow_runs.c.deployment_id))
        .where(flow_runs.c.state_type == _SCHEDULED, flow_runs.c.scheduled_time <= moment)
        .where(not_(deployments.c.paused))
        .order_by(flow_runs.c.scheduled_time, flow_runs.c.created, flow_runs.c.id)
        .limit(1)
    )
    if deployment_limits:
        room = deployments.c.concurrency_limit > deployment_slots_used(deployments.c.name, moment)
        query = query.where(or_(deployments.c.concurrency_limit.is_(None), room))
    if lost:
        query = query.where(flow_runs.c.id.not_in(lost))
    if full:
        query = query.where(flow_runs.c.deployment_id.not_in(full))
    if only is not None:  # a served flow's worker: its own deployments' runs only
        query = query.where(deployments.c.name.in_(list(only)))
    return query


def _take(connection: Connection, run_id: str, worker_id: str, moment: datetime) -> bool:
    state = Pending(f"Claimed by {worker_id}", timestamp=moment.timestamp())
    statement = (
        update(flow_runs)
        .where(flow_runs.c.id == run_id, flow_runs.c.state_type == _SCHEDULED)
        .values(
            state_type=state.type.value,
            state_name=state.name,
            state_message=state.message,
            worker_id=worker_id,
            heartbeat_at=moment,
        )
    )
    if connection.execute(statement).rowcount != 1:
        return False
    append_history(connection, run_id, state, moment)
    return True
