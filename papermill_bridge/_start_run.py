"""Starting a deployment run now, and following it until it ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from kernel_ext._names import generate_run_name
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import FINAL_TYPES, Scheduled
from kernel_ext.store import get_store
from kernel_ext.store.records import FlowRunDetail
from papermill_bridge._parameters import coerce_parameters

__all__ = ["start_run", "wait_for"]


def start_run(name: str, parameters: dict[str, Any] | None = None) -> FlowRunDetail:
    """A Scheduled run of deployment ``name``, due now, with validated parameters."""
    store = get_store()
    deployment = store.read_deployment(name)
    version = deployment["versions"][0]
    schema = version["parameters"]
    values = {p["name"]: p["default"] for p in schema}
    values.update(coerce_parameters(schema, parameters or {}))
    run_id = FlowRunId(str(uuid.uuid4()))
    store.create_scheduled_run(
        id=run_id,
        deployment_id=deployment["id"],
        deployment_version=version["version"],
        name=generate_run_name(),
        flow_name=deployment["name"],
        parameters=values,
        scheduled_time=time.time(),
        state=Scheduled("Started by hand"),
    )
    return store.read_flow_run(run_id)


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
