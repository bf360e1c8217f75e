"""Schedules of deployments: added, replaced, listed for the scheduler, switched on and
off, advanced.

The store keeps a schedule's ``spec`` as the schedules module gave it (a cron expression
with its time zone, or an interval) and never interprets it; nor its catch-up policy.
It keeps ``last_slot``, the latest slot the scheduler gave a run: ``advance_schedule``
only moves it forward, so two schedulers ticking at once cannot move it back. A schedule
that never ran counts its slots from ``created``: a new one runs no slot of the past.

Replacing a deployment's schedules is one transaction: a schedule whose spec and
parameters are asked for again stays, with its ``last_slot`` (no slot twice, no catch-up
burst); the others go, with their runs that no worker has claimed yet.
Records are JSON-able dicts with ISO-8601 UTC times, joined with their deployment's name
and whether it is paused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import ConfigurationError
from kernel_ext._states import StateType
from kernel_ext.store._event_writes import deployment_resource, record_event
from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._tables import deployments, flow_runs, schedules, state_history
from kernel_ext.store._types import dumps, from_epoch, isoformat

__all__ = [
    "add_schedule",
    "advance_schedule",
    "list_schedules",
    "read_schedule",
    "replace_schedules",
    "schedules_by_deployment",
    "set_schedule_active",
]

from kernel_ext.store.records import ReplacedSchedules, ScheduleEntry, ScheduleRecord

_MAX_CATCHUP = 16  # the column's length
_CHUNK = 500  # ids per statement, well under every backend's parameter limit


def add_schedule(
    connection: Connection,
    deployment: str,
    spec: Mapping[str, Any],
    parameters: Mapping[str, Any],
    catchup: str,
) -> ScheduleRecord:
    _check_catchup(catchup)
    row = find_deployment(connection, deployment)
    entry: ScheduleEntry = {
        "spec": dict(spec),
        "parameters": dict(parameters),
        "active": True,
        "catchup": catchup,
    }
    schedule = read_schedule(connection, _insert(connection, row.id, entry, datetime.now(UTC)))
    _schedules_changed(connection, row.id, row.name, {"added": [schedule["id"]]})
    return schedule


def replace_schedules(
    connection: Connection, deployment: str, entries: Sequence[ScheduleEntry]
) -> ReplacedSchedules:
    """Make ``entries`` the deployment's schedules (an empty list removes them all).

    A current schedule with an entry's spec and parameters stays, keeping its id and
    ``last_slot``, and takes the entry's ``active`` and ``catchup``; the others are
    deleted with their runs that no worker has claimed (Scheduled or Late, never
    started) and those runs' history; the entries that matched none are added, in
    order. Every entry is checked before anything changes.
    """
    wanted = [_checked(number, entry) for number, entry in enumerate(entries, 1)]
    row = find_deployment(connection, deployment, lock=True)  # one replacement at a time
    query = (
        select(schedules)
        .where(schedules.c.deployment_id == row.id)
        .order_by(schedules.c.created, schedules.c.id)
    )
    unmatched = list(connection.execute(query).mappings())
    kept, added = 0, []
    for entry in wanted:
        same = next((s for s in unmatched if _same_slots(s, entry)), None)
        if same is None:
            added.append(entry)
            continue
        unmatched.remove(same)
        kept += 1
        if (bool(same.active), same.catchup) != (entry["active"], entry["catchup"]):
            statement = update(schedules).where(schedules.c.id == same.id)
            connection.execute(statement.values(active=entry["active"], catchup=entry["catchup"]))
    removed = [s.id for s in unmatched]
    deleted_runs = _delete_unclaimed_runs(connection, removed)
    for start in range(0, len(removed), _CHUNK):
        chunk = removed[start : start + _CHUNK]
        connection.execute(delete(schedules).where(schedules.c.id.in_(chunk)))
    now = datetime.now(UTC)
    for offset, entry in enumerate(added):  # apart by a microsecond: listed in this order
        _insert(connection, row.id, entry, now + timedelta(microseconds=offset))
    if added or removed or kept != len(wanted):
        change = {"added": len(added), "removed": len(removed), "kept": kept}
        _schedules_changed(connection, row.id, row.name, change)
    return {
        "schedules": schedules_by_deployment(connection, [row.id], False).get(row.id, []),
        "kept": kept,
        "added": len(added),
        "removed": len(removed),
        "deleted_runs": deleted_runs,
    }


def read_schedule(connection: Connection, schedule_id: str) -> ScheduleRecord:
    row = connection.execute(_joined().where(schedules.c.id == schedule_id)).mappings().first()
    if row is None:
        raise ConfigurationError(
            f"No schedule has the id {schedule_id!r}; a deployment's schedules are listed by "
            "`taskbook deployments show NAME`."
        )
    return _schedule(row)


def list_schedules(connection: Connection, active_only: bool) -> list[ScheduleRecord]:
    query = _joined()
    if active_only:
        query = query.where(schedules.c.active.is_(True))
    return [_schedule(row) for row in connection.execute(query).mappings()]


def schedules_by_deployment(
    connection: Connection, deployment_ids: Iterable[str], active_only: bool
) -> dict[str, list[ScheduleRecord]]:
    """The schedules of each of ``deployment_ids``, oldest first."""
    query = _joined().where(schedules.c.deployment_id.in_(list(deployment_ids)))
    if active_only:
        query = query.where(schedules.c.active.is_(True))
    found: dict[str, list[ScheduleRecord]] = {}
    for row in connection.execute(query).mappings():
        found.setdefault(row.deployment_id, []).append(_schedule(row))
    return found


def set_schedule_active(connection: Connection, schedule_id: str, active: bool) -> ScheduleRecord:
    before = read_schedule(connection, schedule_id)
    statement = update(schedules).where(schedules.c.id == schedule_id).values(active=active)
    connection.execute(statement)
    schedule = read_schedule(connection, schedule_id)
    if before["active"] != active:
        change = {"schedule_id": schedule_id, "active": active}
        _schedules_changed(
            connection, schedule["deployment_id"], schedule["deployment_name"], change
        )
    return schedule


def _schedules_changed(
    connection: Connection, deployment_id: str, name: str, change: Mapping[str, Any]
) -> None:
    """Record ``prefect.deployment.schedules.changed``: what was added, removed, switched."""
    resource = deployment_resource(deployment_id, name)
    record_event(connection, "prefect.deployment.schedules.changed", resource, payload=change)


def advance_schedule(connection: Connection, schedule_id: str, last_slot: float) -> ScheduleRecord:
    slot = from_epoch(last_slot)
    statement = (
        update(schedules)
        .where(schedules.c.id == schedule_id)
        .where(or_(schedules.c.last_slot.is_(None), schedules.c.last_slot < slot))
        .values(last_slot=slot)
    )
    connection.execute(statement)
    return read_schedule(connection, schedule_id)


def _check_catchup(catchup: object, where: str = "") -> None:
    if not isinstance(catchup, str) or not catchup or len(catchup) > _MAX_CATCHUP:
        raise ConfigurationError(
            f"{where}The catch-up policy {catchup!r} is not one the scheduler knows; use "
            "'latest' (run the most recent missed slot) or 'all'."
        )


def _checked(number: int, entry: ScheduleEntry) -> ScheduleEntry:
    """Entry ``number`` (from 1) with its spec and parameters as the JSON columns give
    them back, so that it compares with what is stored."""
    where = f"schedule {number}: "
    _check_catchup(entry.get("catchup"), where)
    spec, parameters = entry.get("spec"), entry.get("parameters")
    if not isinstance(spec, Mapping) or not isinstance(parameters, Mapping):
        raise ConfigurationError(
            f"{where}give its spec (a schedules module dict) and its parameters as dicts."
        )
    if not isinstance(entry.get("active"), bool):
        raise ConfigurationError(f"{where}active must be True or False.")
    return {
        "spec": json.loads(dumps(dict(spec))),
        "parameters": json.loads(dumps(dict(parameters))),
        "active": entry["active"],
        "catchup": entry["catchup"],
    }


def _same_slots(schedule: RowMapping, entry: ScheduleEntry) -> bool:
    """The stored schedule runs the entry's slots with its parameters."""
    return bool(
        schedule.spec == entry["spec"] and (schedule.parameters or {}) == entry["parameters"]
    )


def _insert(connection: Connection, deployment_id: str, entry: ScheduleEntry, now: datetime) -> str:
    schedule_id = str(uuid.uuid4())
    connection.execute(
        schedules.insert().values(
            id=schedule_id,
            deployment_id=deployment_id,
            spec=entry["spec"],
            parameters=entry["parameters"],
            active=entry["active"],
            catchup=entry["catchup"],
            created=now,  # its first slot is the first after this
        )
    )
    return schedule_id


def _delete_unclaimed_runs(connection: Connection, schedule_ids: list[str]) -> int:
    """Delete the runs of these schedules that no worker has claimed, with their
    history; how many went. (The state type leads an index: only waiting runs are read.)"""
    deleted: list[str] = []
    for start in range(0, len(schedule_ids), _CHUNK):
        statement = (
            delete(flow_runs)
            .where(
                flow_runs.c.state_type == StateType.SCHEDULED.value,
                flow_runs.c.schedule_id.in_(schedule_ids[start : start + _CHUNK]),
                flow_runs.c.worker_id.is_(None),  # a retry or a resumed run was claimed once
                flow_runs.c.start_time.is_(None),
            )
            .returning(flow_runs.c.id)
        )
        deleted.extend(connection.execute(statement).scalars())
    for start in range(0, len(deleted), _CHUNK):
        chunk = deleted[start : start + _CHUNK]
        connection.execute(delete(state_history).where(state_history.c.run_id.in_(chunk)))
    return len(deleted)


def _joined() -> Select[Any]:
    return (
        select(
            schedules,
            deployments.c.name.label("deployment_name"),
            deployments.c.paused.label("deployment_paused"),
        )
        .select_from(schedules.join(deployments, deployments.c.id == schedules.c.deployment_id))
        .order_by(schedules.c.created, schedules.c.id)
    )


def _schedule(row: RowMapping) -> ScheduleRecord:
    return {
        "id": row.id,
        "deployment_id": row.deployment_id,
        "deployment_name": row.deployment_name,
        "deployment_paused": bool(row.deployment_paused),
        "spec": row.spec,
        "parameters": row.parameters or {},
        "active": bool(row.active),
        "catchup": row.catchup,
        "last_slot": isoformat(row.last_slot),
        "created": isoformat(row.created),
    }
