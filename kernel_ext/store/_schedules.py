"""Schedules of deployments: added, listed for the scheduler, switched on and off, advanced.

The store keeps a schedule's ``spec`` as the schedules module gave it (a cron expression
with its time zone, or an interval) and never interprets it; nor its catch-up policy.
It keeps ``last_slot``, the latest slot the scheduler gave a run: ``advance_schedule``
only moves it forward, so two schedulers ticking at once cannot move it back.
Records are JSON-able dicts with ISO-8601 UTC times, joined with their deployment's name
and whether it is paused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import ConfigurationError
from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._tables import deployments, schedules
from kernel_ext.store._types import from_epoch, isoformat

__all__ = [
    "add_schedule",
    "advance_schedule",
    "list_schedules",
    "read_schedule",
    "schedules_by_deployment",
    "set_schedule_active",
]

from kernel_ext.store.records import ScheduleRecord

_MAX_CATCHUP = 16  # the column's length


def add_schedule(
    connection: Connection,
    deployment: str,
    spec: Mapping[str, Any],
    parameters: Mapping[str, Any],
    catchup: str,
) -> ScheduleRecord:
    if not catchup or len(catchup) > _MAX_CATCHUP:
        raise ConfigurationError(
            f"The catch-up policy {catchup!r} is not one the scheduler knows; use 'latest' "
            "(run the most recent missed slot) or 'all'."
        )
    row = find_deployment(connection, deployment)
    schedule_id = str(uuid.uuid4())
    connection.execute(
        schedules.insert().values(
            id=schedule_id,
            deployment_id=row.id,
            spec=dict(spec),
            parameters=dict(parameters),
            active=True,
            catchup=catchup,
            created=datetime.now(UTC),
        )
    )
    return read_schedule(connection, schedule_id)


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
    statement = update(schedules).where(schedules.c.id == schedule_id).values(active=active)
    connection.execute(statement)
    return read_schedule(connection, schedule_id)


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
