"""Creating the runs of a deployment (now, or for a schedule's slot), and following a run
until it ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kernel_ext._names import generate_run_name
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import FINAL_TYPES, Scheduled, State
from kernel_ext.store import get_store
from kernel_ext.store.records import (
    DeploymentDetail,
    FlowRunDetail,
    FlowRunRecord,
    ScheduleRecord,
)
from papermill_bridge._parameters import check_required, coerce_parameters, run_defaults

if TYPE_CHECKING:
    from kernel_ext.store import Store

__all__ = ["create_deployment_run", "slot_parameters", "start_run", "wait_for"]


def start_run(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    when: float | None = None,
    message: str = "Started by hand",
    run_id: FlowRunId | None = None,
) -> FlowRunDetail:
    """A Scheduled run of deployment ``name``, due now (or at ``when``, epoch seconds),
    with validated parameters. ``run_id`` gives the run its id (an automation's, derived
    from its firing, so that running its action again starts no second run)."""
    store = get_store()
    deployment = store.read_deployment(name)
    schema = deployment["versions"][0]["parameters"]
    given = coerce_parameters(schema, parameters or {})
    check_required(schema, given, f"A run of {name}")
    values = run_defaults(schema)
    values.update(given)
    due = time.time() if when is None else when
    run = create_deployment_run(store, deployment, values, due, Scheduled(message), run_id=run_id)
    assert run is not None  # only a schedule's slot can already have its run
    return store.read_flow_run(run["id"])


def create_deployment_run(
    store: Store,
    deployment: DeploymentDetail,
    parameters: Mapping[str, Any],
    when: float,
    state: State,
    slot: tuple[ScheduleRecord, datetime] | None = None,
    run_id: FlowRunId | None = None,
) -> FlowRunRecord | None:
    """A run of the deployment's latest version, due at ``when`` (epoch seconds), in
    ``state`` (Scheduled or Late), with id ``run_id`` (a new one by default). With
    ``slot`` (a schedule and one of its times) it is that slot's run: None if the slot
    has one already (a slot never runs twice)."""
    schedule_id = slot_key = None
    if slot is not None:
        schedule, moment = slot
        schedule_id, slot_key = schedule["id"], f"{schedule['id']}:{moment.isoformat()}"
    return store.create_scheduled_run(
        id=run_id or FlowRunId(str(uuid.uuid4())),
        deployment_id=deployment["id"],
        deployment_version=deployment["versions"][0]["version"],
        name=generate_run_name(),
        flow_name=deployment["name"],
        parameters=parameters,
        scheduled_time=when,
        schedule_id=schedule_id,
        slot_key=slot_key,
        state=state,
    )


def slot_parameters(deployment: DeploymentDetail, schedule: ScheduleRecord) -> dict[str, Any]:
    """The parameters of a schedule's runs: the latest version's defaults, with the
    schedule's own values over them."""
    defaults = run_defaults(deployment["versions"][0]["parameters"])
    return {**defaults, **(schedule.get("parameters") or {})}


def wait_for(
    run_id: FlowRunId,
    on_change: Callable[[FlowRunDetail], None],
    poll_seconds: float = 0.5,
    timeout: float | None = None,
    on_poll: Callable[[FlowRunDetail], None] | None = None,
) -> FlowRunDetail:
    """Poll the run until it is final, calling ``on_change`` at every new state (and
    ``on_poll``, if given, at every poll); the run as it was at the last poll (not final
    if ``timeout`` seconds passed first)."""
    store = get_store()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = None
    while True:
        run = store.read_flow_run(run_id)
        if run["state"] != seen:
            seen = run["state"]
            on_change(run)
        if on_poll is not None:
            on_poll(run)
        if run["state_type"] in FINAL_TYPES:
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        time.sleep(poll_seconds)
