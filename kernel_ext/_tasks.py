"""``@task``: a function whose calls become tracked, retried, cached task runs.

Calling a task runs it in the caller's thread and returns its value; ``.submit()`` runs
it on the flow's task runner and returns a future; ``.map()`` submits one run per
element; ``.fn`` is the plain function. A task called outside any flow still runs and is
recorded (without a flow run).
"""

from __future__ import annotations

import datetime
import functools
import inspect
import time
from collections.abc import Callable, Iterable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from kernel_ext._context import FlowRunContext, current_flow_run, task_run_context
from kernel_ext._durability import flush_store
from kernel_ext._errors import ConfigurationError
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList
from kernel_ext._mapping import map_arguments, unmapped
from kernel_ext._names import check_run_name as _check_run_name
from kernel_ext._names import run_name
from kernel_ext._options import (
    UNSET,
    cache_and_persistence,
    check_expiration,
    check_timeout,
)
from kernel_ext._results import ResultStorage, check_serializer, default_storage, storage_from
from kernel_ext._retries import DelaySpec, RetryPolicy
from kernel_ext._run_records import TaskRun, TaskRunId
from kernel_ext._runnables import Runnable, check_reserved, hook_adder, hook_list, unwrap_method
from kernel_ext._runners import PendingCall, RemoteTaskRunner, ThreadPoolTaskRunner
from kernel_ext._states import State
from kernel_ext._task_inputs import linked_upstream
from kernel_ext._tracebacks import without_engine_frames
from kernel_ext.cache_policies import INPUTS, _None
from kernel_ext.engine._hooks import TASK_HOOKS, HookSet
from kernel_ext.engine.task_run import (
    TaskRunEngine,
    create_task_run,
    run_task_async,
    run_task_stream,
    run_task_stream_async,
    run_task_sync,
)
from kernel_ext.store import get_store

if TYPE_CHECKING:
    from typing import Unpack

    from kernel_ext._options import TaskOptions

__all__ = ["Task", "task"]

P = ParamSpec("P")
R = TypeVar("R")
Hook = Callable[["Task[Any, Any]", TaskRun, State], Any]


class Task(Runnable, Generic[P, R]):
    """A function with orchestration options; see ``task`` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        version: str | None = None,
        cache_policy: Any = UNSET,
        cache_key_fn: Callable[..., str | None] | None = None,
        cache_expiration: datetime.timedelta | float | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: DelaySpec = None,
        retry_jitter_factor: float | None = None,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        result_storage_key: str | None = None,
        cache_result_in_memory: bool = True,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        refresh_cache: bool | None = None,
        on_completion: list[Hook] | None = None,
        on_failure: list[Hook] | None = None,
        on_running: list[Hook] | None = None,
        on_rollback: list[Callable[..., Any]] | None = None,
        on_commit: list[Callable[..., Any]] | None = None,
        retry_condition_fn: Callable[..., bool] | None = None,
        viz_return_value: Any = None,
    ) -> None:
        self._options = {k: v for k, v in locals().items() if k not in ("self", "fn")}
        fn, self._method_kind = unwrap_method(fn)
        if not callable(fn):
            raise ConfigurationError(f"@task needs a function, got {type(fn).__name__}.")
        check_reserved(fn)
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.tags = tuple(tags or ())
        self.version = version
        self.task_key = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', self.name)}"
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.streams = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        owner = f"task {self.name!r}"
        self.retry_policy = RetryPolicy.build(
            owner, retries, retry_delay_seconds, retry_jitter_factor, retry_condition_fn
        )
        self.timeout_seconds = check_timeout(owner, timeout_seconds)
        self.task_run_name = _check_run_name(owner, "task_run_name", task_run_name)
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = check_expiration(owner, cache_expiration)
        self.refresh_cache = bool(refresh_cache)
        self.result_storage_key = result_storage_key
        self.result_serializer = check_serializer(owner, result_serializer)
        self.cache_result_in_memory = cache_result_in_memory
        self.cache_policy, self.persist_result = cache_and_persistence(
            cache_policy,
            cache_key_fn,
            persist_result,
            result_storage_key,
            result_storage,
            result_serializer,
        )
        self.persists = bool(self.persist_result)
        self.caches = self.persists and (
            result_storage_key is not None
            or (self.cache_policy is not None and not isinstance(self.cache_policy, _None))
        )
        self.result_storage = result_storage  # as given, as Prefect keeps it
        self._storage = storage_from(result_storage)
        self.log_prints = log_prints
        # Whether a deployment run that resumes after a suspension restores this task's
        # finished runs from their results (cells keep their outputs their own way).
        self.resumable = True
        self.hooks = HookSet(owner, TASK_HOOKS, self._options)
        update_wrapper(self, fn)  # type: ignore[arg-type,unused-ignore]

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"

    @property
    def source_code(self) -> str | None:
        """The source of the task's function (None where Python cannot find it)."""
        try:
            return inspect.getsource(self.fn)
        except (OSError, TypeError):
            return None

    # Run by the run's transaction: hook(txn).
    on_commit = hook_adder("on_commit")
    on_rollback = hook_adder("on_rollback")
    on_commit_hooks = hook_list("on_commit")
    on_rollback_hooks = hook_list("on_rollback")

    def with_options(self, **options: Unpack[TaskOptions]) -> Task[P, R]:
        """A copy of this task with some options changed (hooks added since kept)."""
        return self._copy_with(dict(options))

    # --- calling ------------------------------------------------------------------------

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def __call__(self, *args: Any, return_state: bool = ..., wait_for: Any = ...) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        if self._bound_to is not None:
            args = (self._bound_to, *args)
        flow_ctx = current_flow_run()
        if flow_ctx is None:
            get_store()
        engine = TaskRunEngine(self, create_task_run(self, flow_ctx), args, kwargs, wait_for)
        if self.streams:
            stream = run_task_stream_async if self.is_async else run_task_stream
            return stream(engine)
        if self.is_async:
            return self._call_async(engine, return_state, flow_ctx is None)
        try:
            return run_task_sync(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise  # a bare raise adds no frame: the traceback starts at the caller's
        finally:
            if flow_ctx is None:
                flush_store()

    async def _call_async(self, engine: TaskRunEngine, return_state: bool, standalone: bool) -> Any:
        try:
            return await run_task_async(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise
        finally:
            if standalone:
                flush_store()

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied."""
        return _bind(self.fn, args, kwargs)

    def submit(
        self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any
    ) -> Any:
        """Run on the flow's task runner; returns a future at once (with
        ``return_state=True``, waits and returns the run's final state)."""
        args = self._with_bound(args)
        flow_ctx = current_flow_run()
        remote = _remote_runner(flow_ctx)
        if remote is not None:
            assert flow_ctx is not None
            future = self._submit_remote(remote, [(args, kwargs)], wait_for, None, flow_ctx)[0]
        else:
            future = self._submit_one(args, kwargs, wait_for, None, flow_ctx)
        if return_state:
            future.wait()
            return future.state
        return future

    def _submit_one(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Any,
        upstream: list[TaskRunId] | None,
        flow_ctx: FlowRunContext | None,
        runner: Any = None,
    ) -> TaskRunFuture[R]:
        if flow_ctx is None:
            get_store()
        run = create_task_run(self, flow_ctx)
        future: TaskRunFuture[R] = TaskRunFuture(run)
        engine = TaskRunEngine(self, run, args, kwargs, wait_for, future, upstream)
        _submit(flow_ctx, future, lambda: self._drive(engine), runner)
        return future

    def _submit_remote(
        self,
        runner: RemoteTaskRunner,
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
        wait_for: Any,
        upstream: list[TaskRunId] | None,
        flow_ctx: FlowRunContext,
    ) -> list[TaskRunFuture[R]]:
        """Hand the runs to a runner that executes them in other processes (Dask): the
        process that runs each one announces it, so its history has one writer."""
        runs = []
        for args, kwargs in calls:
            run = create_task_run(self, flow_ctx, announce=False)
            run.upstream = list(upstream or ())
            runs.append((run, args, kwargs))
        futures: list[TaskRunFuture[R]] = list(
            runner.submit_task_runs(self, runs, wait_for, flow_ctx)
        )
        flow_ctx.futures.extend(futures)
        return futures

    def map(
        self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any
    ) -> Any:
        """Submit one run per element of the iterable arguments; ``unmapped(x)`` broadcasts.
        A future of a list may stand for the list: it is waited for first."""
        args = tuple(_await_future(a) for a in self._with_bound(args))
        kwargs = {k: _await_future(v) for k, v in kwargs.items()}
        calls = map_arguments(self.name, args, kwargs)
        flow_ctx = current_flow_run()
        # An iterable produced by a task run links every mapped run to that producer.
        upstream = linked_upstream((_unwrap(v) for v in (*args, *kwargs.values())), flow_ctx)
        remote = _remote_runner(flow_ctx)
        if remote is not None:
            assert flow_ctx is not None
            futures = TaskRunFutureList(
                self._submit_remote(remote, calls, wait_for, upstream, flow_ctx)
            )
        else:
            futures = TaskRunFutureList(
                self._submit_one(a, k, wait_for, upstream, flow_ctx) for a, k in calls
            )
        if return_state:
            futures.wait()
            return [f.state for f in futures]
        return futures

    def _drive(self, engine: TaskRunEngine) -> None:
        if self.streams:  # a submitted generator runs to its end; its items are dropped
            if self.is_async:
                import asyncio

                asyncio.run(_drain(run_task_stream_async(engine)))
            else:
                for _ in run_task_stream(engine):
                    pass
        elif self.is_async:
            import asyncio

            asyncio.run(run_task_async(engine, return_state=True))
        else:
            run_task_sync(engine, return_state=True)

    # --- used by the engine -------------------------------------------------------------

    def resolve_run_name(self, context: Any) -> str:
        token = task_run_context.set(context)
        try:
            return run_name(self.task_run_name, context.parameters, "task_run_name")
        finally:
            task_run_context.reset(token)

    def cache_key(self, args: tuple[Any, ...], kwargs: dict[str, Any], context: Any) -> str | None:
        """The run's cache key, or None (not cached). A key that cannot be computed is
        logged, and the run goes on without caching, as in Prefect."""
        try:
            if self.cache_policy is None:
                key: str | None = self.storage_key(None, context)
                return key
            flow_ctx = current_flow_run()
            flow_parameters = flow_ctx.parameters if flow_ctx is not None else {}
            return self.cache_policy.compute_key(
                task_ctx=context, inputs=context.parameters, flow_parameters=flow_parameters
            )
        except Exception as error:
            from kernel_ext._logging import engine_logger

            engine_logger().warning(
                "Task %r: no cache key (%s: %s); it runs without caching.",
                self.name,
                type(error).__name__,
                error,
            )
            return None

    def storage_key(self, default: str | None, context: Any) -> Any:
        """Where the result is stored: ``result_storage_key`` formatted with the run's
        ``parameters`` and the ``flow_run``/``task_run`` of ``kernel_ext.runtime``."""
        if self.result_storage_key is None:
            return default
        from kernel_ext import runtime

        token = task_run_context.set(context)
        try:
            return self.result_storage_key.format(
                parameters=context.parameters,
                flow_run=runtime.flow_run,
                task_run=runtime.task_run,
                deployment=runtime.deployment,
            )
        finally:
            task_run_context.reset(token)

    def input_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """A stable hash of the call's inputs (raises CacheKeyError if one cannot be)."""
        inputs = _bind(self.fn, args, kwargs)
        if not inputs:
            return ""
        return INPUTS.compute_key(None, inputs, {})

    def storage(self) -> ResultStorage:
        """Where results go: the task's ``result_storage``, else its flow's, else the
        default folder (as Prefect's tasks inherit their flow's result storage)."""
        if self._storage is not None:
            return self._storage
        flow = getattr(current_flow_run(), "flow", None)
        inherited = getattr(flow, "_storage", None)
        return inherited if isinstance(inherited, ResultStorage) else default_storage()

    def expiration_time(self) -> float | None:
        return None if self.cache_expiration is None else time.time() + self.cache_expiration

    def resolve_log_prints(self, flow_ctx: FlowRunContext | None) -> bool:
        if self.log_prints is not None:
            return self.log_prints
        return flow_ctx.log_prints if flow_ctx is not None else False


def _await_future(value: Any) -> Any:
    """A future given to ``.map()`` in place of an iterable: its value."""
    return value.result() if isinstance(value, TaskRunFuture) else value


async def _drain(items: Any) -> None:
    async for _ in items:
        pass


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, unmapped) else value


def _bind(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        try:
            signature, names = _signature(fn)
        except TypeError:  # an unhashable callable (a dataclass with __call__): not kept
            signature, names = _signature.__wrapped__(fn)
        if names is not None and len(args) == len(names) and not kwargs:
            return dict(zip(names, args, strict=True))  # all given by position: no binding
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}
    bound.apply_defaults()
    return dict(bound.arguments)


@functools.lru_cache(maxsize=1024)
def _signature(fn: Callable[..., Any]) -> tuple[inspect.Signature, tuple[str, ...] | None]:
    """``fn``'s signature (read once: it costs more than the rest of a cached run), and
    its parameters' names when each is a plain one, positional or keyword."""
    signature = inspect.signature(fn)
    plain = all(
        p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
        for p in signature.parameters.values()
    )
    return signature, tuple(signature.parameters) if plain else None


_default_runner: ThreadPoolTaskRunner | None = None


def _remote_runner(flow_ctx: FlowRunContext | None) -> RemoteTaskRunner | None:
    if flow_ctx is None:
        return None
    runner = flow_ctx.task_runner
    # An attribute check, not isinstance: a runtime-checkable Protocol costs ~10 µs.
    return runner if getattr(runner, "submit_task_runs", None) is not None else None  # type: ignore[return-value]


def _submit(
    flow_ctx: FlowRunContext | None,
    future: TaskRunFuture[Any],
    call: Callable[[], None],
    runner: Any = None,
) -> None:
    global _default_runner
    if flow_ctx is not None:
        flow_ctx.futures.append(future)
        runner = runner or flow_ctx.task_runner
    elif runner is None:
        if _default_runner is None:
            # Outside a flow there is no run to scope a runner to: one shared pool serves.
            _default_runner = ThreadPoolTaskRunner()
        runner = _default_runner
    start = getattr(runner, "start_call", None)
    if start is None:  # a runner of the user's own: it takes the call
        runner.submit(call)
        return
    pending = PendingCall(call)
    future._pending = pending
    start(pending)


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...
@overload
def task(**options: Unpack[TaskOptions]) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Any = None, **options: Any) -> Any:
    """Make a function a task. Options (all optional), as in Prefect:

    name, description, tags, retries, retry_delay_seconds (number, list or
    ``exponential_backoff(...)``), retry_jitter_factor, retry_condition_fn(task, run, state),
    timeout_seconds, cache_policy, cache_key_fn(context, parameters), cache_expiration,
    refresh_cache, persist_result, result_storage (folder or fsspec URL), log_prints,
    on_completion / on_failure (lists of hook(task, task_run, state)).
    """
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)
