"""The kernel session as one interactive flow run, named after the notebook.

Every ``%%task`` cell execution is a task run of this flow run. The run starts with the
first task cell and ends (Completed) when the kernel exits. A worker that executes a
deployment sets ``TASKBOOK_FLOW_RUN_ID`` so the cells land in the run it created.
"""

from __future__ import annotations

import atexit
import os
import time
from pathlib import Path
from typing import Any

from kernel_ext import _liveness as liveness
from kernel_ext import _states as states
from kernel_ext._context import FlowRunContext
from kernel_ext._durability import flush_store
from kernel_ext._events import StateEvent, bus
from kernel_ext._names import generate_run_name
from kernel_ext._run_records import FlowRun, FlowRunId, new_id
from kernel_ext._runners import ThreadPoolTaskRunner
from kernel_ext.store import get_store

__all__ = ["InteractiveSession", "notebook_path"]


def notebook_path(user_ns: dict[str, Any]) -> str | None:
    """The notebook's path as Jupyter tells the kernel, if it does."""
    for candidate in (
        user_ns.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
        user_ns.get("__vsc_ipynb_file__"),
        os.environ.get("TASKBOOK_NOTEBOOK_PATH"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return candidate
    return None


class _SessionFlow:
    """Stands in for a ``Flow`` in the run context of an interactive session."""

    def __init__(self, name: str) -> None:
        self.name = name


class InteractiveSession:
    """Owns the kernel's interactive flow run and the context its task cells run in."""

    def __init__(self, user_ns: dict[str, Any], kernel_name: str = "python3") -> None:
        path = notebook_path(user_ns)
        self.flow_name = Path(path).stem if path else f"ipython-{kernel_name}"
        self.notebook = path
        self._context: FlowRunContext | None = None
        self._owned = False

    @property
    def started(self) -> bool:
        return self._context is not None

    def context(self) -> FlowRunContext:
        """The session's flow run context, starting the flow run on first use."""
        if self._context is None:
            self._context = self._start()
        return self._context

    def _start(self) -> FlowRunContext:
        from kernel_ext.deployment import attach

        attached = attach()
        if attached is not None:  # executed by a worker: the run is the worker's to end
            return attached
        get_store()
        run_id = new_id()
        run = FlowRun(
            FlowRunId(run_id),
            generate_run_name(),
            self.flow_name,
            {"notebook": self.notebook} if self.notebook else {},
            tags=("interactive",),
        )
        run.start_time = time.time()
        run.run_count = 1
        _emit(run, states.Running("Interactive session"))
        liveness.register(run.id)  # a killed kernel's session ends Crashed, not Running
        atexit.register(self.end)
        self._owned = True
        return FlowRunContext(
            _SessionFlow(self.flow_name), run, ThreadPoolTaskRunner(), log_prints=True
        )

    def end(self, message: str = "The kernel session ended.") -> None:
        """Close the flow run (at kernel exit, or when the extension is unloaded)."""
        if self._context is None or not self._owned:
            return
        run = self._context.flow_run
        self._context.task_runner.__exit__(None, None, None)
        self._context = None
        run.end_time = time.time()
        liveness.unregister(run.id)
        _emit(run, states.Completed(message))
        flush_store()


def _emit(run: FlowRun, state: states.State) -> None:
    run.state = state
    bus.emit(StateEvent(run, state))
