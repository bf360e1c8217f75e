"""Futures for submitted task runs, with Prefect's interface.

``TaskRunFuture.result()`` waits and returns the value (or raises the run's exception);
``.state`` is the current state; ``.wait()`` waits without raising.
``TaskRunFutureList`` is what ``.map()`` returns: a list with ``.result()`` and ``.wait()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from kernel_ext._run_records import TaskRun, TaskRunId
from kernel_ext._states import State

__all__ = [
    "DoneAndNotDoneFutures",
    "TaskRunFuture",
    "TaskRunFutureList",
    "as_completed",
    "wait",
]

R = TypeVar("R")

# One lock for all futures: callbacks are rare and the critical sections are tiny.
_callback_lock = threading.Lock()


class Latch:
    """Set once, waited for by any number of threads: a lock held until it is set.

    What ``threading.Event`` does for a future, at a fraction of its cost (no condition
    variable to make, notify and wait on): a ``.map()`` makes one per task run."""

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with _callback_lock:  # once: a second release would free a waiter's hold
            if self._set:
                return
            self._set = True
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it was set within ``timeout`` seconds (None: however long it takes)."""
        if self._set:
            return True
        if not self._lock.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            return False
        self._lock.release()  # for the next waiter
        return True


class TaskRunFuture(Generic[R]):
    """The eventual outcome of one submitted task run."""

    __slots__ = ("__weakref__", "_callbacks", "_done", "_final", "_pending", "task_run")

    def __init__(self, task_run: TaskRun) -> None:
        self.task_run = task_run
        self._final: State | None = None
        self._done = Latch()
        self._callbacks: list[Callable[[TaskRunFuture[R]], None]] = []
        # The queued call that runs this future's task run (thread pool): a task run
        # that waits for it from a pool thread runs it itself if no thread has taken it
        # yet, so nested submits cannot exhaust the pool and deadlock.
        self._pending: Any = None

    def __repr__(self) -> str:
        return f"TaskRunFuture({self.task_run.name!r}, state={self.state!r})"

    @property
    def task_run_id(self) -> TaskRunId:
        return self.task_run.id

    @property
    def state(self) -> State:
        state = self._final or self.task_run.state
        if state is None:
            from kernel_ext._states import Pending

            return Pending()
        return state

    def done(self) -> bool:
        return self._final is not None

    def wait(self, timeout: float | None = None) -> None:
        if timeout is None:  # running it here could take longer than the timeout
            self._help()
        self._done.wait(timeout)

    def _help(self) -> None:
        pending = self._pending
        if pending is not None and self._final is None:
            pending.run_here()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value, waiting for it; raises the run's exception if it did not
        complete, and ``TimeoutError`` if it is not done within ``timeout`` seconds."""
        if timeout is None:
            self._help()
        if not self._done.wait(timeout):
            raise TimeoutError(
                f"Task run {self.task_run.name!r} did not finish within {timeout} s; "
                "call .result() again or without a timeout."
            )
        assert self._final is not None
        return self._final.value(raise_on_failure)  # type: ignore[no-any-return]

    @staticmethod
    def fetch_many(futures: Sequence[TaskRunFuture[Any]]) -> None:
        """Fetch the outcomes of ``futures`` in one go, where that saves round trips (a
        remote runner's futures override this); in-process ones have theirs already."""

    def add_done_callback(self, fn: Callable[[TaskRunFuture[R]], None]) -> None:
        with _callback_lock:
            if self._final is None:
                self._callbacks.append(fn)
                return
        fn(self)

    def _finish(self, state: State) -> None:
        self._pending = None
        with _callback_lock:
            self._final = state
            callbacks, self._callbacks = self._callbacks, []
        self._done.set()
        for callback in callbacks:
            callback(self)


class TaskRunFutureList(list[TaskRunFuture[R]]):
    """The futures of a ``.map()``, in input order."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        if self and timeout is None:
            type(self[0]).fetch_many(self)  # one round trip for the whole list (Dask)
        return [f.result(timeout, raise_on_failure) for f in self]


class DoneAndNotDoneFutures(NamedTuple):
    """What ``wait`` returns, as in Prefect: the futures done and those not done."""

    done: set[TaskRunFuture[Any]]
    not_done: set[TaskRunFuture[Any]]


def wait(
    futures: Iterable[TaskRunFuture[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Wait until every future is done (or ``timeout`` seconds pass)."""
    import time

    listed = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    for future in listed:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        future.wait(remaining)
    done = {f for f in listed if f.done()}
    return DoneAndNotDoneFutures(done, {f for f in listed if f not in done})


def as_completed(futures: Iterable[TaskRunFuture[R]]) -> Iterator[TaskRunFuture[R]]:
    """Yield futures as they finish, first finished first."""
    import queue

    pending = list(futures)
    for future in pending:  # from a pool thread, queued runs run here (no deadlock)
        future._help()
    finished: queue.SimpleQueue[TaskRunFuture[R]] = queue.SimpleQueue()
    for future in pending:
        future.add_done_callback(finished.put)
    for _ in pending:
        yield finished.get()
