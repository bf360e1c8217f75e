"""Task runners: where submitted task runs execute.

A flow gets a fresh copy of its runner per flow run (``duplicate()``), enters it for the
run's duration, and exits it once every submitted task run has finished. The default is a
bounded thread pool; Dask comes as an optional extra.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from kernel_ext._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kernel_ext._context import FlowRunContext
    from kernel_ext._futures import TaskRunFuture
    from kernel_ext._runs import TaskRun
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


class ThreadPoolTaskRunner:
    """Runs submitted task runs on a bounded pool of threads (the default runner).

    ``max_workers`` defaults to ``TASKBOOK_TASK_RUNNER_MAX_WORKERS`` or cpu count + 4
    (at most 32). Threads start lazily, so a flow that submits nothing starts none.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = _default_workers() if max_workers is None else _check_workers(
            max_workers
        )
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def submit(self, call: Callable[[], None]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="taskbook")
        # Each task run sees the context (flow run, settings) of the code that submitted it.
        self._executor.submit(contextvars.copy_context().run, call)

    def abandon(self) -> None:
        """Stop at once (Ctrl-C): queued task runs are dropped, running ones left to end."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ThreadPoolTaskRunner:
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
