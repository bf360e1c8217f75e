"""``DaskTaskRunFuture``: a task run's future backed by a Dask future.

The outcome (final state and result) stays on the cluster until someone asks for it:
``wait()`` and ``done()`` only ask the scheduler, ``state`` and ``result()`` fetch it once,
and ``TaskRunFutureList.result()`` fetches a whole map in one gather. Downstream task
runs on the cluster receive it from the worker that holds it, never through the driver.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kernel_ext import _states as states
from kernel_ext._context import FlowRunContext
from kernel_ext._events import StateEvent, bus
from kernel_ext._futures import TaskRunFuture
from kernel_ext._run_records import TaskRun
from kernel_ext.dask._remote import RemoteOutcome

__all__ = ["DaskTaskRunFuture", "dask_wait", "resolve_all"]

R = TypeVar("R")

_settle_lock = threading.Lock()


class DaskTaskRunFuture(TaskRunFuture[R]):
    """The eventual outcome of one task run submitted to a Dask cluster."""

    __slots__ = ("_flow_ctx", "_settling", "dask_future")

    def __init__(
        self, task_run: TaskRun, dask_future: Any, flow_ctx: FlowRunContext | None = None
    ) -> None:
        super().__init__(task_run)
        self.dask_future = dask_future
        self._flow_ctx = flow_ctx
        self._settling = False

    def done(self) -> bool:
        return self._final is not None or bool(self.dask_future.done())

    def wait(self, timeout: float | None = None) -> None:
        if self._final is not None:
            return
        try:
            dask_wait([self.dask_future], timeout)
        except TimeoutError:
            pass

    @property
    def state(self) -> states.State:
        if self._final is not None:
            return self._final
        if self.dask_future.done():
            return self._resolve()
        return super().state

    @property
    def wrapped_future(self) -> Any:
        """The ``distributed.Future`` this future follows (Prefect's name for it)."""
        return self.dask_future

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        self.wait(timeout)
        if not self.done():
            raise TimeoutError(
                f"Task run {self.task_run.name!r} did not finish within {timeout} s; "
                "call .result() again or without a timeout."
            )
        return self._resolve().value(raise_on_failure)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[TaskRunFuture[R]], None]) -> None:
        if self._final is not None:
            fn(self)
            return

        def call(_: Any) -> None:
            self._resolve()
            fn(self)

        # Dask calls back on a thread of its own, where fetching the outcome is allowed.
        self.dask_future.add_done_callback(call)

    @staticmethod
    def fetch_many(futures: Sequence[TaskRunFuture[Any]]) -> None:
        """Fetch the outcomes of many futures in one gather (``map(...).result()``)."""
        resolve_all(futures)

    def _resolve(self) -> states.State:
        """Fetch the outcome once; a task Dask itself lost (worker died) is Crashed."""
        if self._claim():
            try:
                try:
                    outcome: RemoteOutcome | states.State = self.dask_future.result()
                except Exception as error:
                    outcome = _crashed(self.task_run, error, self.dask_future.client)
                self._apply(outcome)
            except BaseException:
                self._unclaim()  # e.g. Ctrl-C while fetching: a later call fetches again
                raise
        self._done.wait()  # settled here, or by another thread that claimed it first
        assert self._final is not None
        return self._final

    def _settle(self, outcome: RemoteOutcome | states.State) -> None:
        """Settle with an outcome fetched elsewhere (a gather), unless already settled."""
        if self._claim():
            try:
                self._apply(outcome)
            except BaseException:
                self._unclaim()
                raise

    def _unclaim(self) -> None:
        with _settle_lock:
            self._settling = False

    def _claim(self) -> bool:
        """Whether this thread settles the future: Dask's callback thread and the caller
        may both try."""
        with _settle_lock:
            if self._final is not None or self._settling:
                return False
            self._settling = True
            return True

    def _apply(self, outcome: RemoteOutcome | states.State) -> None:
        state = outcome.state if isinstance(outcome, RemoteOutcome) else outcome
        self.task_run.state = state
        self.task_run.end_time = state.timestamp
        if self._flow_ctx is not None and state.is_completed():
            # As the thread runner's engine does: passing this value on records an edge.
            self._flow_ctx.link_result(state.data, self.task_run.id)
        self._finish(state)


def _crashed(run: TaskRun, error: BaseException, client: Any) -> states.State:
    # Dask's serialisation errors carry a whole traceback in their text: keep one line.
    reason = (str(error).strip().splitlines() or [""])[0]
    state = states.Crashed(
        "The Dask cluster lost this task run or could not send back its outcome "
        f"({type(error).__name__}: {reason}).",
        data=error,
    )
    # No worker will write it: the driver records it, after whatever the worker wrote
    # (a run whose result cannot be sent ended Completed there), so it is the last state.
    from kernel_ext.dask._remote import flush_worker_store

    try:
        client.run(flush_worker_store, on_error="ignore")
    except Exception:  # the cluster is gone: nothing of it is still to be written
        pass
    _adopt_recorded(run)
    run.state = state
    run.end_time = state.timestamp
    bus.emit(StateEvent(run, state))
    return state


def _adopt_recorded(run: TaskRun) -> None:
    """Take what the worker recorded (start, attempts, cache key), so that the driver's
    row update does not overwrite it with the blanks of its own copy."""
    from kernel_ext.store import get_store

    try:
        recorded = get_store().read_task_run(run.id)
    except Exception:  # never written (lost before it started), or the store is away
        return
    run.run_count = max(run.run_count, int(recorded.get("run_count") or 0))
    run.cache_key = run.cache_key or recorded.get("cache_key")
    run.upstream = run.upstream or list(recorded.get("upstream") or ())
    started = recorded.get("start_time")
    if run.start_time is None and started:
        from datetime import datetime

        run.start_time = datetime.fromisoformat(started).timestamp()


def resolve_all(futures: Sequence[TaskRunFuture[Any]]) -> None:
    """Fetch the outcomes of many Dask-backed futures in one gather (``map().result()``)."""
    pending = [f for f in futures if isinstance(f, DaskTaskRunFuture) and f._final is None]
    if len(pending) < 2:
        return
    dask_wait([f.dask_future for f in pending])
    finished = [f for f in pending if f.dask_future.status == "finished"]
    if finished:
        client = finished[0].dask_future.client
        try:
            outcomes = client.gather([f.dask_future for f in finished])
        except Exception:
            outcomes = None  # one that cannot be fetched: each on its own, below
        if outcomes is not None:
            for future, outcome in zip(finished, outcomes, strict=True):
                future._settle(outcome)
    for future in pending:
        future._resolve()  # the lost ones (and any that could not be fetched): Crashed


def dask_wait(futures: Sequence[Any], timeout: float | None = None) -> None:
    """``distributed.wait`` (which has no annotations): until all are done or ``timeout``."""
    from distributed import wait

    wait(futures, timeout=timeout)  # type: ignore[no-untyped-call,unused-ignore]
