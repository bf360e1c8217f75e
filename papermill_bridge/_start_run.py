"""Starting a deployment run now, and following it until it ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from kernel_ext._names import generate_run_name
from kernel_ext._states import FINAL_TYPE_VALUES
from papermill_bridge._parameters import coerce_parameters

__all__ = ["FINAL", "start_run", "wait_for"]

FINAL = frozenset(FINAL_TYPE_VALUES)


def _store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


def start_run(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Scheduled run of deployment ``name``, due now, with validated parameters."""
    store = _store()
    deployment = store.read_deployment(name)
    version = deployment["versions"][0]
    schema = version["parameters"]
    values = {p["name"]: p["default"] for p in schema}
    values.update(coerce_parameters(schema, parameters or {}))
    run_id = str(uuid.uuid4())
    store.create_scheduled_run(
        id=run_id,
        deployment_id=deployment["id"],
        deployment_version=version["version"],
        name=generate_run_name(),
        flow_name=deployment["name"],
        parameters=values,
        scheduled_time=time.time(),
        message="Started by hand",
    )
    return store.read_flow_run(run_id)  # type: ignore[no-any-return]


def wait_for(
    run_id: str,
    on_change: Callable[[dict[str, Any]], None],
    poll_seconds: float = 0.5,
    timeout: float | None = None,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll the run until it is final, calling ``on_change`` at every new state (and
    ``on_poll``, if given, at every poll)."""
    store = _store()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = None
    while True:
        run: dict[str, Any] = store.read_flow_run(run_id)
        if run["state"] != seen:
            seen = run["state"]
            on_change(run)
        if on_poll is not None:
            on_poll(run)
        if run["state_type"] in FINAL:
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        time.sleep(poll_seconds)
