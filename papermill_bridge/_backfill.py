"""Backfill: create the runs of a deployment's past schedule slots.

Each slot gets the same unique slot key the scheduler would give it, so a backfill never
duplicates a slot that already ran (or was already backfilled).
"""

from __future__ import annotations

from datetime import datetime

from kernel_ext._errors import ConfigurationError
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Scheduled
from papermill_bridge._start_run import create_deployment_run, slot_parameters

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
    backfilled = Scheduled("Backfill")
    created: list[FlowRunId] = []
    existing = 0
    for schedule in deployment["schedules"]:
        spec = schedule_from_dict(schedule["spec"])
        for slot in spec.slots_between(start, end):
            parameters = slot_parameters(deployment, schedule)
            made = create_deployment_run(
                store, deployment, parameters, slot.timestamp(), backfilled, (schedule, slot)
            )
            if made is None:
                existing += 1
            else:
                created.append(made["id"])
    return created, existing
