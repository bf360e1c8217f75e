"""The worker's side of a Dask task run: the same engine as on the thread runner.

The driver sends each task run as its record (state Pending) and its arguments, plus
two values it scattered once per flow run: the ``Task`` and a ``RemoteContext`` (the
flow run, the store settings, ``log_prints``). A worker process opens the store named by
those settings, enters the flow run, and drives the task run with ``run_sync`` or
``run_async``: states, retries, timeouts, caching, persisted results and logs are the
thread runner's, and its events are written by the worker's own store writer under the
driver's flow run id.

What travels back is a ``RemoteOutcome``: the final state (with the result) and which
run it belongs to. It stays in the worker's memory until the driver, or a downstream
task on the cluster, asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kernel_ext import _settings
from kernel_ext._context import FlowRunContext, flow_run_context
from kernel_ext._events import StateEvent, bus
from kernel_ext._futures import TaskRunFuture
from kernel_ext._run_records import FlowRun, TaskRun, TaskRunId
from kernel_ext._runners import ThreadPoolTaskRunner
from kernel_ext._states import State
from kernel_ext.engine.task_run import TaskRunEngine, run_task_async, run_task_sync

if TYPE_CHECKING:
    from kernel_ext._tasks import Task

__all__ = ["RemoteContext", "RemoteOutcome", "flush_worker_store", "run_remote"]


@dataclass(slots=True, frozen=True)
class RemoteContext:
    """What every task run of one flow run needs on a worker; scattered once."""

    flow_run: FlowRun
    settings: dict[str, str]
    log_prints: bool

    @classmethod
    def capture(cls, flow_run: FlowRun, log_prints: bool) -> RemoteContext:
        """The driver's settings as they are now (a test harness's overrides included)."""
        settings = {
            "TASKBOOK_HOME": str(_settings.home()),
            "TASKBOOK_STORE_URL": _settings.store_url(),
            "TASKBOOK_RESULTS_URL": _settings.results_url(),
        }
        return cls(flow_run, settings, log_prints)


@dataclass(slots=True, frozen=True)
class RemoteOutcome:
    """A finished task run as the cluster keeps it: which run, and its final state."""

    task_run_id: TaskRunId
    name: str
    state: State


def run_remote(
    run: TaskRun,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    task: Task[Any, Any],
    context: RemoteContext,
    wait_for: Any = None,
) -> RemoteOutcome:
    """Execute one task run on this worker (the function Dask schedules).

    The arguments come separately, not in one record, because Dask replaces the futures
    it finds in tuples, lists and dicts but does not look inside other objects.
    """
    from kernel_ext.store import get_store

    args, kwargs = _revive(args), _revive(kwargs)
    with _gate.enter(context.settings), _settings.override(**context.settings):
        get_store()  # subscribed to this process's events before the first one
        # Task runs submitted from inside this one stay on this worker, and end with it.
        nested = ThreadPoolTaskRunner()
        flow_ctx = FlowRunContext(None, context.flow_run, nested, context.log_prints)
        token = flow_run_context.set(flow_ctx)
        try:
            # The driver created the run; its first state is written here, so the whole
            # history comes from one writer, in order.
            if run.state is not None:
                bus.emit(StateEvent(run, run.state))
            engine = TaskRunEngine(task, run, args, kwargs, _revive(wait_for), None, run.upstream)
            with nested:
                if task.is_async:
                    state = asyncio.run(run_task_async(engine, return_state=True))
                else:
                    state = run_task_sync(engine, return_state=True)
        finally:
            flow_run_context.reset(token)
    return RemoteOutcome(run.id, run.name, _portable(state))


class _SettingsGate:
    """One store at a time in a worker process.

    Settings (and so the store) are per process, while a worker's threads may run task
    runs of several flow runs at once. Runs of flows that use the same settings run
    together; a run of a flow that uses another store waits until they are done, so no
    event goes to the wrong store.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._settings: dict[str, str] | None = None
        self._active = 0

    @contextlib.contextmanager
    def enter(self, settings: dict[str, str]) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: self._active == 0 or self._settings == settings)
            self._settings = settings
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify_all()


_gate = _SettingsGate()


def _portable(state: State) -> State:
    """``state``, with an exception that would not survive the trip to the driver
    replaced by a RuntimeError that names it (an exception whose ``__init__`` takes other
    arguments than its message cannot be unpickled; one holding a lock cannot be pickled).

    Otherwise the driver would get Dask's serialisation error instead of the run's
    failure, for the whole ``map(...).result()``. The store already holds the original
    type and traceback (written here). Results are not checked: that would serialise
    every one of them, and they are meant to stay on the worker until asked for.
    """
    error = state.data
    if state.is_completed() or not isinstance(error, BaseException):
        return state
    import cloudpickle

    try:
        pickle.loads(cloudpickle.dumps(error))
    except Exception as problem:
        substitute = RuntimeError(
            f"{type(error).__name__}: {error} (the exception itself could not be sent from "
            f"the Dask worker: {type(problem).__name__}: {problem})"
        )
        return State(
            state.type, state.name, state.message, substitute, state.details, state.timestamp
        )
    return state


def flush_worker_store() -> bool:
    """Commit this worker's queued events (called on every worker as a flow run ends)."""
    from kernel_ext.store import current_store

    store = current_store()
    if store is None:
        return False
    store.flush(timeout=None)
    return True


def _revive(value: Any) -> Any:
    """Upstream outcomes (resolved by Dask from futures) become finished futures again,
    so the engine's input resolution records the edge and stops on a failed upstream."""
    if type(value) is RemoteOutcome:
        future: TaskRunFuture[Any] = TaskRunFuture(
            TaskRun(value.task_run_id, value.name, "", None, state=value.state)
        )
        future._finish(value.state)
        return future
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_revive(v) for v in value)
    if type(value) is dict:
        return {k: _revive(v) for k, v in value.items()}
    return value
