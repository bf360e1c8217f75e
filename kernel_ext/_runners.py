"""Task runners: where submitted task runs execute.

A flow gets a fresh copy of its runner per flow run (``duplicate()``), enters it for the
run's duration, and exits it once every submitted task run has finished. The default is a
bounded thread pool; Dask comes as an optional extra.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from kernel_ext._context import current_flow_run
from kernel_ext._errors import ConfigurationError
from kernel_ext._thread_pool import ThreadPool

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kernel_ext._context import FlowRunContext
    from kernel_ext._futures import TaskRunFuture
    from kernel_ext._run_records import TaskRun
    from kernel_ext._tasks import Task

__all__ = ["RemoteTaskRunner", "TaskRunner", "ThreadPoolTaskRunner"]


class TaskRunner(Protocol):
    """Runs zero-argument calls concurrently; each call runs one task run to its end."""

    def duplicate(self) -> TaskRunner: ...

    def submit(self, call: Callable[[], None]) -> None: ...

    def __enter__(self) -> TaskRunner: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class RemoteTaskRunner(Protocol):
    """A runner whose task runs execute in other processes (e.g. ``DaskTaskRunner``).

    It receives the run records (Pending, not yet announced) with their arguments and
    returns their futures; the process that executes a run drives the engine and writes
    its states to the store.
    """

    def submit_task_runs(
        self,
        task: Task[Any, Any],
        calls: Sequence[tuple[TaskRun, tuple[Any, ...], dict[str, Any]]],
        wait_for: Any,
        flow_ctx: FlowRunContext,
    ) -> Sequence[TaskRunFuture[Any]]: ...


def _default_workers() -> int:
    value = os.environ.get("TASKBOOK_TASK_RUNNER_MAX_WORKERS")
    if value:
        return _check_workers(int(value))
    return min(32, (os.cpu_count() or 1) + 4)


def _check_workers(value: int) -> int:
    if value < 1:
        raise ConfigurationError(f"max_workers must be at least 1, got {value}.")
    return value


_pool_thread = threading.local()


class PendingCall:
    """A submitted call that either a pool thread or a thread waiting for it runs, once.

    A task run blocked on a future from inside a pool thread would hold that thread; when
    every thread does so, the queued runs they wait for never start. So a pool thread
    that waits for a run no thread has taken yet runs it itself (``run_here``)."""

    __slots__ = ("_box",)

    def __init__(self, call: Callable[[], None]) -> None:
        # The call with the submitter's context (its run and settings). Taking it out of
        # the list is atomic, so exactly one thread gets it, and once taken nothing here
        # keeps the run's inputs alive.
        self._box = [(call, contextvars.copy_context())]

    def run(self) -> None:
        try:
            call, context = self._box.pop()
        except IndexError:  # another thread took it
            return
        context.run(call)

    def run_here(self) -> None:
        """Run the call in this thread, if it is a pool thread outside an event loop
        (an async run's loop cannot nest another) and no thread has taken the call."""
        if getattr(_pool_thread, "active", False) and asyncio._get_running_loop() is None:
            self.run()


def _mark_pool_thread() -> None:
    _pool_thread.active = True


class ThreadPoolTaskRunner:
    """Runs submitted task runs on a bounded pool of threads (the default runner).

    ``max_workers`` defaults to ``TASKBOOK_TASK_RUNNER_MAX_WORKERS`` or cpu count + 4
    (at most 32). Threads start lazily, so a flow that submits nothing starts none.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = (
            _default_workers() if max_workers is None else _check_workers(max_workers)
        )
        self._executor: ThreadPool | None = None
        self._started = False

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def submit(
        self, call: Any, parameters: dict[str, Any] | None = None, wait_for: Any = None
    ) -> Any:
        """Run ``call`` on the pool; or, as in Prefect, ``submit(task, parameters,
        wait_for)`` runs a task run here and returns its future."""
        if parameters is not None or hasattr(call, "submit"):
            self._require_started()
            return call._submit_one(
                (), dict(parameters or {}), wait_for, None, current_flow_run(), runner=self
            )
        self.start_call(PendingCall(call))
        return None

    def start_call(self, pending: PendingCall) -> None:
        if self._executor is None:
            self._executor = ThreadPool(self.max_workers, "taskbook", _mark_pool_thread)
        self._executor.submit(pending.run)

    def map(self, task: Any, parameters: dict[str, Any], wait_for: Any = None) -> Any:
        """Prefect's ``runner.map(task, parameters)``: one task run per element of the
        iterable parameters, on this runner; their futures, in order."""
        from kernel_ext._futures import TaskRunFutureList
        from kernel_ext._mapping import map_arguments

        self._require_started()
        flow_ctx = current_flow_run()
        calls = map_arguments(task.name, (), dict(parameters))
        return TaskRunFutureList(
            task._submit_one(a, k, wait_for, None, flow_ctx, runner=self) for a, k in calls
        )

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError(
                "The task runner is not started; use it as `with ThreadPoolTaskRunner() as "
                "runner:` (a flow starts its own)."
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ThreadPoolTaskRunner) and other.max_workers == self.max_workers

    __hash__ = object.__hash__

    def abandon(self) -> None:
        """Stop at once (Ctrl-C): queued task runs are dropped, running ones left to end."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_calls=True)
            self._executor = None

    def __enter__(self) -> ThreadPoolTaskRunner:
        self._started = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._started = False
