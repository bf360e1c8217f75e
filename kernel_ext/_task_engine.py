"""The task run engine: one task run from Pending to a final state.

``TaskRunEngine`` holds the state machine (inputs, cache, attempts, retries, results,
hooks); ``run_sync`` and ``run_async`` drive it for plain and ``async def`` tasks. The
default path (no cache, no retries, no timeout) costs three events and no I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING, Any

from kernel_ext import _states as states
from kernel_ext._context import (
    FlowRunContext,
    TaskRunContext,
    ambient_flow_run,
    current_flow_run,
    task_run_context,
)
from kernel_ext._errors import (
    Abort,
    CacheKeyError,
    ResultError,
    Suspend,
    TaskRunTimeout,
    Terminated,
)
from kernel_ext._events import ResultEvent, StateEvent, bus
from kernel_ext._futures import TaskRunFuture
from kernel_ext._hashing import hash_text
from kernel_ext._inputs import resolve_inputs
from kernel_ext._leases import release_async
from kernel_ext._limits import acquire_slots, acquire_slots_async, holder_label, limited_tags
from kernel_ext._runs import TaskRun, TaskRunId, new_id
from kernel_ext._timeouts import call_with_timeout
from kernel_ext._tracebacks import format_failure

if TYPE_CHECKING:
    from kernel_ext._leases import Lease
    from kernel_ext._tasks import Task

__all__ = ["TaskRunEngine", "create_task_run"]

_standalone_counter = itertools.count()


def create_task_run(
    task: Task[Any, Any], flow_ctx: FlowRunContext | None, announce: bool = True
) -> TaskRun:
    """A new task run of ``task`` in the current flow run, Pending (and announced as such,
    unless the process that executes it will announce it: a Dask worker)."""
    if flow_ctx is not None:
        name = flow_ctx.next_task_run_name(task.name)
        flow_run_id = flow_ctx.flow_run.id
    else:
        name, flow_run_id = f"{task.name}-{next(_standalone_counter)}", None
    run = TaskRun(TaskRunId(new_id()), name, task.task_key, flow_run_id, tags=task.tags)
    if announce:
        _set_state(run, states.Pending())
    else:
        run.state = states.Pending()
    return run


def _set_state(run: TaskRun, state: states.State) -> None:
    run.state = state
    bus.emit(StateEvent(run, state))


class TaskRunEngine:
    """Moves one task run through its states; the drivers below supply the calls."""

    def __init__(
        self,
        task: Task[Any, Any],
        run: TaskRun,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Any = None,
        future: TaskRunFuture[Any] | None = None,
        upstream: list[TaskRunId] | None = None,
    ) -> None:
        self.task = task
        self.run = run
        self.args = args
        self.kwargs = kwargs
        self.wait_for = wait_for
        self.future = future
        self.flow_ctx = current_flow_run()
        self.state: states.State = run.state or states.Pending()
        self.cache_key: str | None = None
        self.resume_key: str | None = None
        self.known_upstream = upstream or []

    # --- before the first attempt -------------------------------------------------------

    def prepare(self) -> bool:
        """Resolve inputs and look up the cache; False when the run is already final."""
        resolved = resolve_inputs(self.args, self.kwargs, self.wait_for, self.flow_ctx)
        upstream = _merge(self.known_upstream, resolved.upstream)
        if upstream:
            self.run.upstream = upstream
        if resolved.failed is not None:
            label, state = resolved.failed
            self._finish(
                states.Failed(
                    f"Upstream task run {label!r} ended {state.name}; this run did not start.",
                    data=resolved.error,
                )
            )
            return False
        self.args, self.kwargs = resolved.args, resolved.kwargs
        if self.task.caches:
            return not self._lookup_cache()
        if self.task.resumable and ambient_flow_run() is not None:
            return not self._lookup_resumed()
        return True

    def _lookup_resumed(self) -> bool:
        """In a deployment run, a task run that finished before a suspension comes back.

        Keyed by the deployment run's id, the task's source and its inputs: when the
        resumed run executes the notebook again, those task runs are Cached instead of
        running their bodies. Inputs that cannot be hashed simply run again.
        """
        ambient = ambient_flow_run()
        assert ambient is not None
        try:
            inputs = self.task.input_key(self.args, self.kwargs)
        except CacheKeyError:
            return False
        key = "resume-" + hash_text(f"{ambient.flow_run.id}|{self.task.task_key}|{inputs}")
        try:
            hit = self.task.result_storage().read(key)
        except ResultError:
            hit = None
        if hit is None:
            self.resume_key = key
            return False
        details = {"cache_key": key, "result": hit.location}
        self._finish(states.Cached("Finished before the run was suspended", hit.value, details))
        return True

    def _lookup_cache(self) -> bool:
        try:
            self.cache_key = self.task.cache_key(self.args, self.kwargs, self.flow_ctx)
        except CacheKeyError as error:
            self._finish(_failed_state(error))
            return True
        if self.cache_key is None or self.task.refresh_cache:
            return False
        self.run.cache_key = self.cache_key
        try:
            hit = self.task.result_storage().read(self.cache_key)
        except ResultError as error:
            self._log_warning(str(error))
            return False
        if hit is None:
            return False
        details = {"cache_key": self.cache_key, "result": hit.location}
        self._finish(states.Cached(f"Cached result from {_ago(hit.created)}", hit.value, details))
        return True

    def take_tag_slots(self) -> Lease | None:
        """Hold a slot of each concurrency limit named by one of the run's tags (waiting
        in AwaitingConcurrencySlot while they are full); None when no tag is limited.

        The slots are held until the run ends, retries included."""
        names = limited_tags(self.run.tags) if self.run.tags else None
        if not names:
            return None
        holder = holder_label(f"task run {self.run.name}")
        return acquire_slots(names, 1, holder=holder, on_wait=self._awaiting_slot)

    async def take_tag_slots_async(self) -> Lease | None:
        """``take_tag_slots`` without blocking the event loop while waiting."""
        names = await asyncio.to_thread(limited_tags, self.run.tags) if self.run.tags else None
        if not names:
            return None
        holder = holder_label(f"task run {self.run.name}")
        return await acquire_slots_async(names, 1, holder=holder, on_wait=self._awaiting_slot)

    def _awaiting_slot(self, name: str) -> None:
        message = f"Waiting for a free slot of concurrency limit {name!r}"
        _set_state(self.run, states.AwaitingConcurrencySlot(message))

    # --- attempts -----------------------------------------------------------------------

    def begin_attempt(self) -> TaskRunContext:
        run = self.run
        run.run_count += 1
        if run.start_time is None:
            run.start_time = time.time()
        _set_state(run, states.Running() if run.run_count == 1 else states.Retrying())
        return TaskRunContext(self.task, run, self.task.resolve_log_prints(self.flow_ctx))

    def succeed(self, value: Any) -> None:
        details = None
        if self.task.persists:
            try:
                details = self._persist(value)
            except ResultError as error:
                self._finish(_failed_state(error))
                return
        if self.resume_key is not None:
            try:  # best effort: an unpicklable result just runs again on resume
                self.task.result_storage().write(self.resume_key, value, None, self.run.name)
            except ResultError:
                pass
        self._finish(states.Completed(data=value, details=details))

    def fail(self, error: BaseException) -> float | None:
        """Record a failed attempt; the delay before the next attempt, or None if final."""
        failed = _failed_state(error)
        policy = self.task.retry_policy
        if policy.should_retry(
            self.run.run_count, lambda: policy.condition(self.task, self.run, failed)  # type: ignore[misc]
        ):
            delay = policy.delay_before(self.run.run_count)
            scheduled = time.time() + delay
            _set_state(
                self.run,
                states.AwaitingRetry(
                    f"Retry {self.run.run_count} of {policy.retries} in {delay:g} s "
                    f"after {failed.message}",
                    details={"scheduled_time": scheduled, **(failed.details or {})},
                ),
            )
            return delay
        self._finish(failed)
        return None

    def ensure_final(self, error: BaseException) -> None:
        """After an unexpected error (a broken hook of the engine's own, a cache key
        function that raised, a full disk), end the run Failed, or Crashed for a signal."""
        if self.state.is_final() or self.state.is_paused():
            return
        if isinstance(error, Exception):
            self._finish(_failed_state(error))
        else:
            self._finish(states.Crashed(f"Stopped by {type(error).__name__}.", data=error))

    def interrupt(self, signal: BaseException) -> None:
        """The attempt was stopped by a signal (Ctrl-C, cancel): Cancelled, else Crashed."""
        message = f"{type(signal).__name__}: {signal}".rstrip(": ")
        if isinstance(signal, Suspend):
            self._finish(states.Suspended(str(signal)))
        elif isinstance(signal, Abort):
            self._finish(states.Cancelled(str(signal) or "Aborted."))
        elif isinstance(signal, Terminated):
            self._finish(states.Cancelled("Terminated by SIGTERM."))
        elif isinstance(signal, (KeyboardInterrupt, asyncio.CancelledError)):
            self._finish(states.Cancelled(f"Interrupted ({message})."))
        else:
            self._finish(states.Crashed(f"Stopped by {message}.", data=signal))

    # --- the end ------------------------------------------------------------------------

    def _persist(self, value: Any) -> dict[str, Any]:
        key = self.cache_key or self.run.id
        expiration = self.task.expiration_time()
        label = f"task run {self.run.name!r}"
        location = self.task.result_storage().write(key, value, expiration, label)
        bus.emit(ResultEvent(self.run.id, self.cache_key, location, time.time(), expiration))
        details: dict[str, Any] = {"result": location}
        if self.cache_key:
            details["cache_key"] = self.cache_key
        return details

    def _finish(self, state: states.State) -> None:
        self.run.end_time = state.timestamp
        self.state = state
        _set_state(self.run, state)
        if self.flow_ctx is not None and state.type is states.StateType.COMPLETED:
            self.flow_ctx.link_result(state.data, self.run.id)
        self.task.run_hooks(self.run, state)
        if self.future is not None:
            self.future._finish(state)

    def _log_warning(self, message: str) -> None:
        from kernel_ext._logging import engine_logger

        engine_logger().warning("Task run %r: %s", self.run.name, message)

    def outcome(self, return_state: bool) -> Any:
        if return_state:
            return self.state
        return self.state.result()


def _merge(first: list[TaskRunId], second: list[TaskRunId]) -> list[TaskRunId]:
    if not first:
        return second
    return first + [run_id for run_id in second if run_id not in first]


def _failed_state(error: BaseException) -> states.State:
    details = {
        "exception_type": type(error).__name__,
        "traceback": format_failure(error),
    }
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, TaskRunTimeout):
        return states.TimedOut(message, data=error, details=details)
    return states.Failed(message, data=error, details=details)


def _ago(created: float) -> str:
    seconds = max(0.0, time.time() - created)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def run_sync(engine: TaskRunEngine, return_state: bool = False) -> Any:
    """Drive a plain (``def``) task run to its end in the calling thread."""
    try:
        _attempts_sync(engine)
    except BaseException as error:  # never leave a run (and its future) unfinished
        engine.ensure_final(error)
        if not isinstance(error, Exception):
            raise
    return engine.outcome(return_state)


def _attempts_sync(engine: TaskRunEngine) -> None:
    if engine.prepare():
        lease = engine.take_tag_slots()
        try:
            _loop_sync(engine)
        finally:
            if lease is not None:
                lease.release()


def _loop_sync(engine: TaskRunEngine) -> None:
    task = engine.task
    while True:
        token = task_run_context.set(engine.begin_attempt())
        try:
            value = call_with_timeout(
                task.fn, engine.args, engine.kwargs, task.timeout_seconds
            )
        except Exception as error:
            delay = engine.fail(error)
            if delay is None:
                break
            time.sleep(delay)
            continue
        except Abort as signal:  # a stop on purpose: Cancelled, the flow goes on
            engine.interrupt(signal)
            break
        except BaseException as signal:
            engine.interrupt(signal)
            raise
        finally:
            task_run_context.reset(token)
        engine.succeed(value)
        break


async def run_async(engine: TaskRunEngine, return_state: bool = False) -> Any:
    """Drive an ``async def`` task run to its end on the running event loop."""
    try:
        await _attempts_async(engine)
    except BaseException as error:
        engine.ensure_final(error)
        if not isinstance(error, Exception):
            raise
    return engine.outcome(return_state)


async def _attempts_async(engine: TaskRunEngine) -> None:
    if engine.prepare():
        lease = await engine.take_tag_slots_async()
        try:
            await _loop_async(engine)
        finally:
            if lease is not None:
                await release_async(lease)


async def _loop_async(engine: TaskRunEngine) -> None:
    task = engine.task
    while True:
        token = task_run_context.set(engine.begin_attempt())
        try:
            call = task.fn(*engine.args, **engine.kwargs)
            if task.timeout_seconds is not None:
                value = await _async_timeout(call, task.timeout_seconds)
            else:
                value = await call
        except Exception as error:
            delay = engine.fail(error)
            if delay is None:
                break
            await asyncio.sleep(delay)
            continue
        except Abort as signal:  # a stop on purpose: Cancelled, the flow goes on
            engine.interrupt(signal)
            break
        except BaseException as signal:
            engine.interrupt(signal)
            raise
        finally:
            task_run_context.reset(token)
        engine.succeed(value)
        break


async def _async_timeout(call: Any, seconds: float) -> Any:
    try:
        return await asyncio.wait_for(call, seconds)
    except TimeoutError as error:
        raise TaskRunTimeout(f"The run exceeded its timeout of {seconds:g} s.") from error
