"""Backfill: create the runs of a deployment's past schedule slots.

Each slot gets the same unique slot key the scheduler would give it, so a backfill never
duplicates a slot that already ran (or was already backfilled).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from kernel_ext._errors import ConfigurationError
from kernel_ext._names import generate_run_name
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Scheduled

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import DeploymentDetail, ScheduleRecord, VersionRecord

__all__ = ["backfill"]


def backfill(name: str, start: datetime, end: datetime) -> tuple[list[FlowRunId], int]:
    """Create runs for every slot of ``name``'s schedules in (start, end].

    Returns the new run ids and how many slots already had a run.
    """
    from kernel_ext.store import get_store
    from papermill_bridge.schedules import schedule_from_dict

    if start >= end:
        raise ConfigurationError(
            f"--start ({start:%Y-%m-%d %H:%M}) must be before --end ({end:%Y-%m-%d %H:%M})."
        )
    store = get_store()
    deployment = store.read_deployment(name)
    if not deployment["schedules"]:
        raise ConfigurationError(
            f"Deployment {name!r} has no schedule to backfill; deploy it with --cron or --interval."
        )
    version = deployment["versions"][0]
    created, existing = [], 0
    for schedule in deployment["schedules"]:
        spec = schedule_from_dict(schedule["spec"])
        for slot in spec.slots_between(start, end):
            run_id = _create(store, deployment, version, schedule, slot)
            if run_id is None:
                existing += 1
            else:
                created.append(run_id)
    return created, existing


def _create(
    store: Store,
    deployment: DeploymentDetail,
    version: VersionRecord,
    schedule: ScheduleRecord,
    slot: datetime,
) -> FlowRunId | None:
    parameters = {p["name"]: p["default"] for p in version["parameters"]}
    parameters.update(schedule.get("parameters") or {})
    run_id = FlowRunId(str(uuid.uuid4()))
    made = store.create_scheduled_run(
        id=run_id,
        deployment_id=deployment["id"],
        deployment_version=version["version"],
        name=generate_run_name(),
        flow_name=deployment["name"],
        parameters=parameters,
        scheduled_time=slot.timestamp(),
        schedule_id=schedule["id"],
        slot_key=f"{schedule['id']}:{slot.isoformat()}",
        state=Scheduled("Backfill"),
    )
    return run_id if made is not None else None
