"""The task run engine: one task run from Pending to a final state.

``TaskRunEngine`` holds the state machine (inputs, cache, attempts, retries, results);
``lifecycle`` is the one ladder of steps that ``run_task_sync``, ``run_task_async`` and
the stream drivers perform for plain, ``async def`` and generator tasks. The default
path (no cache, no retries, no timeout) costs three events and no I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import Token
from typing import TYPE_CHECKING, Any

from kernel_ext import _states as states
from kernel_ext._context import (
    FlowRunContext,
    TaskRunContext,
    ambient_flow_run,
    current_flow_run,
    task_run_context,
)
from kernel_ext._errors import Abort, CacheKeyError, ResultError, UpstreamTaskError
from kernel_ext._events import ResultEvent, bus
from kernel_ext._futures import TaskRunFuture
from kernel_ext._hashing import hash_text
from kernel_ext._leases import release_async
from kernel_ext._logging import PrintCapture
from kernel_ext._results import StoredResult
from kernel_ext._run_records import TaskRun, TaskRunId, new_id
from kernel_ext._slots import acquire_slots, acquire_slots_async, holder_label, limited_tags
from kernel_ext._tags import _current as _current_tags
from kernel_ext._task_inputs import resolve_inputs
from kernel_ext.engine._outcome import return_value_to_state
from kernel_ext.engine._steps import (
    Blocking,
    Call,
    Lifecycle,
    Sleep,
    Stream,
    drive_async,
    drive_sync,
    stream,
    stream_async,
)
from kernel_ext.engine._task_transaction import (
    close_transaction,
    needs_transaction,
    open_transaction,
    stage,
)
from kernel_ext.engine._transitions import (
    ago,
    failed_state,
    interrupted_state,
    set_state,
)

if TYPE_CHECKING:
    from kernel_ext._leases import Lease
    from kernel_ext._tasks import Task

__all__ = [
    "TaskRunEngine",
    "create_task_run",
    "run_task_async",
    "run_task_stream",
    "run_task_stream_async",
    "run_task_sync",
]

_standalone_counter = itertools.count()
_TRANSACTIONS = "kernel_ext._transaction"  # no transaction is active before its import


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
    tags = task.run_tags() if task.tags or _current_tags.get() else ()
    pending = states.Pending()
    run = TaskRun(
        TaskRunId(new_id()), name, task.task_key, flow_run_id, tags=tags, created=pending.timestamp
    )
    if announce:
        set_state(run, pending)
    else:
        run.state = pending
    return run


class TaskRunEngine:
    """Moves one task run through its states; ``lifecycle`` supplies the order."""

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
        self.flow_ctx = flow_ctx = current_flow_run()
        self.log_prints = (
            task.log_prints
            if task.log_prints is not None
            else (flow_ctx is not None and flow_ctx.log_prints)
        )
        self.state: states.State = run.state or states.Pending()
        self.cache_key: str | None = None
        self.resume_key: str | None = None
        self.known_upstream = upstream or []
        self._token: Token[TaskRunContext | None] | None = None
        self.stage_into: Any = None  # the run's transaction, when it runs in one

    # --- before the first attempt -------------------------------------------------------

    def prepare(self) -> bool:
        """Resolve inputs and look up the cache; False when the run is already final."""
        resolved = resolve_inputs(
            self.args, self.kwargs, self.wait_for, self.flow_ctx, own=self.run.id
        )
        upstream = _merge(self.known_upstream, resolved.upstream)
        if upstream:
            self.run.upstream = upstream
        if resolved.failed is not None:
            label, state = resolved.failed
            message = f"Upstream task run {label!r} ended {state.name}; this run did not start."
            error = resolved.error or UpstreamTaskError(message)
            self._finish(states.Failed(message, data=error))
            return False
        self.args, self.kwargs = resolved.args, resolved.kwargs
        if self.task.task_run_name is not None:
            self.run.name = self.task.resolve_run_name(self._context())
        if self.task.caches:
            return not self._lookup_cache()
        if self.task.resumable and ambient_flow_run() is not None:
            return not self._lookup_resumed()
        return True

    def _context(self) -> TaskRunContext:
        return TaskRunContext(self.task, self.run, self.log_prints, self.args, self.kwargs)

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
            hit = self.task.storage().read(key)
        except ResultError:
            hit = None
        if hit is None:
            self.resume_key = key
            return False
        details = {"cache_key": key, "result": hit.location}
        self._finish(states.Cached("Finished before the run was suspended", hit.value, details))
        return True

    def _lookup_cache(self) -> bool:
        self.cache_key = self.task.cache_key(self.args, self.kwargs, self._context())
        if self.cache_key is None or self.task.refresh_cache:
            return False
        self.run.cache_key = self.cache_key
        try:
            hit = self.task.storage().read(self.cache_key, serializer=self.task.result_serializer)
        except ResultError as error:
            self.log_warning(str(error))
            return False
        if hit is None:
            return False
        details = {"cache_key": self.cache_key, "result": hit.location}
        self._finish(states.Cached(f"Cached result from {ago(hit.created)}", hit.value, details))
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
        set_state(self.run, states.AwaitingConcurrencySlot(message))

    # --- attempts -----------------------------------------------------------------------

    def begin_attempt(self) -> Call:
        """The run is Running (Retrying after the first attempt) in its own context; the
        step that calls its body."""
        run = self.run
        run.run_count += 1
        self.state = states.Running() if run.run_count == 1 else states.Retrying()
        if run.start_time is None:
            run.start_time = self.state.timestamp
        context = TaskRunContext(self.task, run, self.log_prints, self.args, self.kwargs)
        self._token = task_run_context.set(context)
        set_state(run, self.state)
        task = self.task
        if not task.streams:
            return Call(task.fn, self.args, self.kwargs, task.timeout_seconds)
        on_item = None
        if self.flow_ctx is not None:
            flow_ctx, run_id = self.flow_ctx, run.id
            on_item = lambda item: flow_ctx.link_result(item, run_id)  # noqa: E731
        stream = Stream(task.fn, self.args, self.kwargs, task.timeout_seconds, on_item)
        stream.around = (self.end_attempt, lambda: self._enter(context))
        return stream

    def _enter(self, context: TaskRunContext) -> None:
        self._token = task_run_context.set(context)

    def end_attempt(self) -> None:
        if self._token is not None:
            task_run_context.reset(self._token)
            self._token = None

    def succeed(self, value: Any) -> float | None:
        """Record what the body returned: a ``Failed`` state it returns fails the attempt
        (and is retried like an exception); the delay before the next attempt, or None."""
        state = return_value_to_state(value)
        if not state.is_completed():
            if state.is_failed():
                delay = self._retry_delay(state)
                if delay is not None:
                    return delay
            self._finish(state)
            return None
        details = None
        if self.stage_into is not None:
            stage(self, self.stage_into, state)
        elif self.task.persists:
            try:
                details = self.persist(state.data)
            except ResultError as error:
                self._finish(failed_state(error))
                return None
        if self.resume_key is not None:
            try:  # best effort: an unpicklable result just runs again on resume
                self.task.storage().write(self.resume_key, state.data, None, self.run.name)
            except ResultError:
                pass
        if details:
            state.details = {**(state.details or {}), **details}
        self._finish(state)
        return None

    def fail(self, error: BaseException) -> float | None:
        """Record a failed attempt; the delay before the next attempt, or None if final."""
        failed = failed_state(error)
        delay = self._retry_delay(failed)
        if delay is None:
            self._finish(failed)
        return delay

    def _retry_delay(self, failed: states.State) -> float | None:
        policy = self.task.retry_policy
        if not policy.should_retry(
            self.run.run_count,
            lambda: policy.condition(self.task, self.run, failed),  # type: ignore[misc]
        ):
            return None
        delay = policy.delay_before(self.run.run_count)
        scheduled = time.time() + delay
        set_state(
            self.run,
            states.AwaitingRetry(
                f"Retry {self.run.run_count} of {policy.retries} in {delay:g} s "
                f"after {failed.message}",
                details={"scheduled_time": scheduled, **(failed.details or {})},
            ),
        )
        return delay

    def ensure_final(self, error: BaseException) -> None:
        """After an unexpected error (a broken hook of the engine's own, a cache key
        function that raised, a full disk), end the run Failed, or Crashed for a signal."""
        if self.state.is_final() or self.state.is_paused():
            return
        if isinstance(error, Exception):
            self._finish(failed_state(error))
        else:  # Ctrl-C while waiting to retry or for a slot: as during the body
            self._finish(interrupted_state(error))

    def interrupt(self, signal: BaseException) -> None:
        """The attempt was stopped by a signal (Ctrl-C, cancel): Cancelled, else Crashed."""
        self._finish(interrupted_state(signal))

    # --- the end ------------------------------------------------------------------------

    def finish_cached(self, hit: Any) -> None:
        details = {"cache_key": self.cache_key, "result": hit.location}
        self._finish(states.Cached(f"Cached result from {ago(hit.created)}", hit.value, details))

    def persist(self, value: Any) -> dict[str, Any]:
        key = self.task.storage_key(self.cache_key or self.run.id, self._context())
        expiration = self.task.expiration_time()
        label = f"task run {self.run.name!r}"
        storage = self.task.storage()
        location = storage.write(key, value, expiration, label, self.task.result_serializer)
        bus.emit(ResultEvent(self.run.id, self.cache_key, location, time.time(), expiration))
        details: dict[str, Any] = {"result": location}
        if self.cache_key:
            details["cache_key"] = self.cache_key
        return details

    def _finish(self, state: states.State) -> None:
        self.run.end_time = state.timestamp
        self.state = state
        set_state(self.run, state)
        if self.flow_ctx is not None and state.type is states.StateType.COMPLETED:
            self.flow_ctx.link_result(state.data, self.run.id)

    def settle(self) -> None:
        """The run is over and its hooks have run: its future resolves."""
        location = (
            None if self.task.cache_result_in_memory else ((self.state.details or {}).get("result"))
        )
        if location and self.state.is_completed():
            # Not kept in memory: the state reads the persisted result back when asked.
            self.state.data = StoredResult(self.task.storage(), location)
        if self.future is not None:
            self.future._finish(self.state)

    def log_warning(self, message: str) -> None:
        from kernel_ext._logging import engine_logger

        engine_logger().warning("Task run %r: %s", self.run.name, message)

    def outcome(self, return_state: bool) -> Any:
        if return_state:
            return self.state
        return self.state.value()


def lifecycle(engine: TaskRunEngine) -> Lifecycle:
    """The steps of one task run: inputs and cache, what wraps the attempts (concurrency
    slots, print capture, a transaction: only when the run needs them), the attempts
    with their retries, then the hooks and the future. The attempts are written here,
    in the generator itself, so the common run costs one generator."""
    signal: BaseException | None = None
    hooked = engine.task.hooks.active  # looked at once: hooks are set before runs start
    try:
        if engine.prepare():
            transactional = _may_need_transaction(engine)
            scope = _Scope() if engine.run.tags or engine.log_prints or transactional else None
            failure: BaseException | None = None
            try:
                if scope is not None:  # filled here: what it took is given back below
                    yield from _enter_scope(engine, scope, transactional)
                while not engine.state.is_final():  # (a transaction may end it Cached)
                    call = engine.begin_attempt()
                    try:
                        if hooked:
                            yield from engine.task.hooks.steps(
                                engine.task, engine.run, engine.state
                            )
                        value = yield call
                    except Exception as error:
                        delay = engine.fail(error)
                    except Abort as stop:  # a stop on purpose: Cancelled, the flow goes on
                        engine.interrupt(stop)
                        break
                    except BaseException as stop:
                        engine.interrupt(stop)
                        raise
                    else:
                        delay = engine.succeed(value)
                    finally:
                        engine.end_attempt()
                    if delay is None:
                        break
                    yield Sleep(delay)
            except BaseException as error:
                failure = error
                raise
            finally:
                if scope is not None:
                    yield from _leave_scope(engine, scope, failure)
    except BaseException as error:  # never leave a run (and its future) unfinished
        engine.ensure_final(error)
        if not isinstance(error, Exception):
            signal = error
    if hooked:
        yield from engine.task.hooks.steps(engine.task, engine.run, engine.state)
    engine.settle()
    if signal is not None:
        raise signal


def _may_need_transaction(engine: TaskRunEngine) -> bool:
    task = engine.task
    maybe = task.caches or _TRANSACTIONS in sys.modules or task.hooks.commits
    return bool(maybe) and needs_transaction(engine)


class _Scope:
    """What a run holds around its attempts: slots, the print capture, a transaction."""

    __slots__ = ("capture", "lease", "txn")

    def __init__(self) -> None:
        self.lease: Lease | None = None
        self.capture: PrintCapture | None = None
        self.txn: Any = None


def _enter_scope(engine: TaskRunEngine, scope: _Scope, transactional: bool) -> Lifecycle:
    if engine.run.tags:  # only a tag can name a concurrency limit
        scope.lease = yield Blocking(engine.take_tag_slots, engine.take_tag_slots_async)
    if engine.log_prints:
        scope.capture = PrintCapture(True).__enter__()
    if transactional:
        scope.txn = yield from open_transaction(engine)


def _leave_scope(engine: TaskRunEngine, scope: _Scope, failure: BaseException | None) -> Lifecycle:
    try:
        if scope.txn is not None:
            yield from close_transaction(engine, scope.txn, failure)
    finally:
        if scope.capture is not None:
            scope.capture.__exit__()
        lease = scope.lease
        if lease is not None:
            yield Blocking(lease.release, lambda: release_async(lease))


def run_task_sync(engine: TaskRunEngine, return_state: bool = False) -> Any:
    """Drive a plain (``def``) task run to its end in the calling thread."""
    drive_sync(lifecycle(engine))  # (its steps: inputs, cache, attempts, hooks, future)
    return engine.outcome(return_state)


async def run_task_async(engine: TaskRunEngine, return_state: bool = False) -> Any:
    """Drive an ``async def`` task run to its end on the running event loop."""
    await drive_async(lifecycle(engine))
    return engine.outcome(return_state)


def run_task_stream(engine: TaskRunEngine) -> Iterator[Any]:
    """A generator task run: its items as they come; the run ends with the generator."""
    return stream(lifecycle(engine), lambda: engine.outcome(False))


def run_task_stream_async(engine: TaskRunEngine) -> AsyncIterator[Any]:
    return stream_async(lifecycle(engine), lambda: engine.outcome(False))


def _merge(first: list[TaskRunId], second: list[TaskRunId]) -> list[TaskRunId]:
    if not first:
        return second
    return first + [run_id for run_id in second if run_id not in first]
