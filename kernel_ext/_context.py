"""The run context: which flow run and task run the current code belongs to.

Context variables, so threads started by the task runner (which copy the context) and
asyncio tasks see the run they were started from.
"""

from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernel_ext._run_records import FlowRun, TaskRun, TaskRunId

if TYPE_CHECKING:
    from kernel_ext._futures import TaskRunFuture
    from kernel_ext._runners import TaskRunner

__all__ = [
    "FlowRunContext",
    "TaskRunContext",
    "ambient_flow_run",
    "current_flow_run",
    "flow_run_context",
    "set_ambient_flow_run",
    "task_run_context",
]


_UNLINKABLE = (type(None), bool, int, float, complex, str, bytes)


@dataclass(slots=True, eq=False)
class FlowRunContext:
    """What a running flow shares with the tasks it calls."""

    flow: Any
    flow_run: FlowRun
    task_runner: TaskRunner
    log_prints: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    futures: list[TaskRunFuture[Any]] = field(default_factory=list)
    results: dict[int, tuple[Any, TaskRunId]] = field(default_factory=dict)
    _counters: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """The current flow run's context, or None (Prefect's ``FlowRunContext.get()``)."""
        return current_flow_run()

    def next_task_run_name(self, task_name: str) -> str:
        counter = self._counters.get(task_name)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(task_name, itertools.count())
        return f"{task_name}-{next(counter)}"

    def link_result(self, value: Any, run_id: TaskRunId) -> None:
        """Remember which task run produced ``value``, so passing it on records an edge.

        Values are matched by identity (as Prefect does), so immutable scalars, which
        Python shares between unrelated uses, are not linked. The reference kept here also
        keeps the id from being reused while the flow runs.
        """
        if not isinstance(value, _UNLINKABLE):
            self.results[id(value)] = (value, run_id)

    def producer_of(self, value: Any) -> TaskRunId | None:
        entry = self.results.get(id(value))
        return entry[1] if entry is not None and entry[0] is value else None


@dataclass(slots=True, eq=False)
class TaskRunContext:
    """The task run the current code executes in."""

    task: Any
    task_run: TaskRun
    log_prints: bool = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """The current task run's context, or None (Prefect's ``TaskRunContext.get()``)."""
        return task_run_context.get()

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's arguments by parameter name (bound on first use: it costs a few µs)."""
        bind = getattr(self.task, "bind", None)
        return bind(self.args, self.kwargs) if bind is not None else dict(self.kwargs)


flow_run_context: ContextVar[FlowRunContext | None] = ContextVar("taskbook_flow_run", default=None)
task_run_context: ContextVar[TaskRunContext | None] = ContextVar("taskbook_task_run", default=None)


# A process may belong to one flow run as a whole: a notebook that a worker executes for a
# deployment run. Its cells run in fresh contexts, so a context variable set in one cell
# would not reach the next; the ambient run is the fallback every lookup sees.
_ambient: list[FlowRunContext | None] = [None]


def current_flow_run() -> FlowRunContext | None:
    """The flow run the calling code belongs to: its own, else the process's ambient run."""
    return flow_run_context.get() or _ambient[0]


def ambient_flow_run() -> FlowRunContext | None:
    return _ambient[0]


def set_ambient_flow_run(context: FlowRunContext | None) -> None:
    _ambient[0] = context
