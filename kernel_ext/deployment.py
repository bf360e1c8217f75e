"""Joining the flow run a worker created, from inside the notebook it executes.

A worker executes a deployment's notebook with ``TASKBOOK_FLOW_RUN_ID`` set and a first
cell that calls ``attach()``. From then on the kernel belongs to that flow run: ``%%task``
cells and tasks become its task runs, flows its subflows, and ``pause_flow_run`` pauses
it. The worker, not the kernel, decides the run's final state.

A deployment of a Python flow imports the flow's file as a module and calls the flow
with the run's parameters (``register_flow_source_magic``, ``call_flow``; see
``_flow_module``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from kernel_ext._context import FlowRunContext, current_flow_run, set_ambient_flow_run
from kernel_ext._durations import seconds_from_env
from kernel_ext._flow_module import call_flow, register_flow_source_magic
from kernel_ext._run_records import FlowRun, FlowRunId
from kernel_ext._runners import ThreadPoolTaskRunner
from kernel_ext._states import FINAL_TYPE_VALUES
from kernel_ext.store import get_store

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunRecord

__all__ = [
    "attach",
    "attached_run_id",
    "call_flow",
    "register_flow_source_magic",
    "skipped_headless",
]

ENV = "TASKBOOK_FLOW_RUN_ID"
FENCE_SECONDS = seconds_from_env("TASKBOOK_FENCE_SECONDS", 3.0, low=0.05, high=10.0)


def attached_run_id() -> str | None:
    """The flow run this process executes for a worker, if any."""
    return os.environ.get(ENV) or None


def skipped_headless(magic: str, why: str) -> bool:
    """In a deployment run, say (in the output notebook) that ``magic`` is skipped, and
    return True; interactively, return False and let it run."""
    run_id = attached_run_id()
    if run_id is None:
        return False
    print(
        f"[taskbook] {magic} skipped: this notebook executes as deployment run "
        f"{run_id[:8]}, and {why}."
    )
    return True


class _DeploymentFlow:
    def __init__(self, name: str) -> None:
        self.name = name


def attach(run_id: str | None = None) -> FlowRunContext | None:
    """Make this process part of flow run ``run_id`` (default: ``$TASKBOOK_FLOW_RUN_ID``)."""
    run_id = run_id or attached_run_id()
    if not run_id:
        return None
    existing = current_flow_run()
    if existing is not None and existing.flow_run.id == run_id:
        return existing
    store = get_store()
    row = store.read_flow_run(FlowRunId(run_id))
    run = FlowRun(row["id"], row["name"], row["flow_name"], row.get("parameters") or {})
    run.persisted = True  # the worker created the row; the engine only adds to it
    run.run_count = row.get("run_count") or 1
    run.start_time = time.time()
    context = FlowRunContext(
        _DeploymentFlow(row["flow_name"]), run, ThreadPoolTaskRunner(), log_prints=True
    )
    set_ambient_flow_run(context)
    if run_id == attached_run_id():  # the kernel of a worker's executor
        _Fence(run_id, run.run_count, row.get("worker_id")).start()
    return context


class _Fence(threading.Thread):
    """Stops this kernel once its attempt is over in the store: the run ended (Crashed by
    the scheduler after its worker died, Cancelled), waits for its retry, or another
    worker or a newer attempt has it. So an attempt whose supervisors are gone cannot go
    on writing beside its retry: a retry is due 10 s after the crash, and the fence looks
    every 3 s (``TASKBOOK_FENCE_SECONDS``)."""

    def __init__(self, run_id: str, attempt: int, worker_id: str | None) -> None:
        super().__init__(name="taskbook-fence", daemon=True)
        self.run_id, self.attempt, self.worker_id = run_id, attempt, worker_id

    def over(self, row: FlowRunRecord) -> bool:
        run_count = row.get("run_count")
        return (
            row["state_type"] in FINAL_TYPE_VALUES
            or row["state"] == "AwaitingRetry"
            or (isinstance(run_count, int) and run_count > self.attempt)
            or row.get("worker_id") != self.worker_id
        )

    def run(self) -> None:
        while True:
            time.sleep(FENCE_SECONDS)
            try:
                row = get_store().read_flow_run(FlowRunId(self.run_id))
            except Exception:  # a store blip: look again later
                continue
            if self.over(row):
                print(
                    f"[taskbook] Run {self.run_id[:8]} attempt {self.attempt} is over in the "
                    f"store ({row['state']}); stopping this kernel.",
                    file=sys.__stderr__,
                )
                os._exit(75)
