"""``@task``: a function whose calls become tracked, retried, cached task runs.

Calling a task runs it in the caller's thread and returns its value; ``.submit()`` runs
it on the flow's task runner and returns a future; ``.map()`` submits one run per
element; ``.fn`` is the plain function. A task called outside any flow still runs and is
recorded (without a flow run).
"""

from __future__ import annotations

import datetime
import inspect
import time
from collections.abc import Callable, Iterable
from functools import update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar, overload

from kernel_ext._context import FlowRunContext, current_flow_run
from kernel_ext._durability import ensure_store, flush_store
from kernel_ext._durations import out_of_range
from kernel_ext._errors import CacheKeyError, ConfigurationError
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList
from kernel_ext._inputs import linked_upstream
from kernel_ext._mapping import map_arguments, unmapped
from kernel_ext._results import ResultStorage, default_storage
from kernel_ext._retries import DelaySpec, RetryPolicy
from kernel_ext._runners import RemoteTaskRunner, ThreadPoolTaskRunner
from kernel_ext._runs import TaskRun, TaskRunId
from kernel_ext._states import State
from kernel_ext._task_engine import TaskRunEngine, create_task_run, run_async, run_sync
from kernel_ext._tracebacks import without_engine_frames
from kernel_ext.cache_policies import INPUTS, CacheContext, CachePolicy, _NoCache

__all__ = ["Task", "task"]

P = ParamSpec("P")
R = TypeVar("R")
Hook = Callable[["Task[Any, Any]", TaskRun, State], None]


class Task(Generic[P, R]):
    """A function with orchestration options; see ``task`` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: DelaySpec = None,
        retry_jitter_factor: float | None = None,
        retry_condition_fn: Callable[..., bool] | None = None,
        timeout_seconds: float | None = None,
        cache_policy: CachePolicy | None = None,
        cache_key_fn: Callable[..., str | None] | None = None,
        cache_expiration: datetime.timedelta | float | None = None,
        refresh_cache: bool = False,
        persist_result: bool | None = None,
        result_storage: str | ResultStorage | None = None,
        log_prints: bool | None = None,
        on_completion: list[Hook] | None = None,
        on_failure: list[Hook] | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"@task needs a function, got {type(fn).__name__}.")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.tags = tuple(tags or ())
        self.task_key = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', self.name)}"
        self.is_async = inspect.iscoroutinefunction(fn)
        owner = f"task {self.name!r}"
        self.retry_policy = RetryPolicy.build(
            owner, retries, retry_delay_seconds, retry_jitter_factor, retry_condition_fn
        )
        self.timeout_seconds = _check_timeout(owner, timeout_seconds)
        self.cache_policy = cache_policy
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = _check_expiration(owner, cache_expiration)
        self.refresh_cache = refresh_cache
        self.caches = cache_key_fn is not None or (
            cache_policy is not None and not isinstance(cache_policy, _NoCache)
        )
        # As in Prefect: results are persisted when caching is on, unless told otherwise.
        self.persists = self.caches if persist_result is None else persist_result
        self._storage = ResultStorage(result_storage) if isinstance(result_storage, str) else (
            result_storage
        )
        self.log_prints = log_prints
        # Whether a deployment run that resumes after a suspension restores this task's
        # finished runs from their results (cells keep their outputs their own way).
        self.resumable = True
        self.on_completion = list(on_completion or ())
        self.on_failure = list(on_failure or ())
        self._options = dict(
            name=name, description=description, tags=tags, retries=retries,
            retry_delay_seconds=retry_delay_seconds, retry_jitter_factor=retry_jitter_factor,
            retry_condition_fn=retry_condition_fn, timeout_seconds=timeout_seconds,
            cache_policy=cache_policy, cache_key_fn=cache_key_fn,
            cache_expiration=cache_expiration, refresh_cache=refresh_cache,
            persist_result=persist_result, result_storage=result_storage,
            log_prints=log_prints, on_completion=on_completion, on_failure=on_failure,
        )  # fmt: skip
        update_wrapper(self, fn)  # type: ignore[arg-type,unused-ignore]

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"

    @property
    def retries(self) -> int:
        return self.retry_policy.retries

    def with_options(self, **options: Any) -> Task[P, R]:
        """A copy of this task with some options changed."""
        return Task(self.fn, **{**self._options, **options})

    # --- calling ------------------------------------------------------------------------

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def __call__(self, *args: Any, return_state: bool = ..., wait_for: Any = ...) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        flow_ctx = current_flow_run()
        if flow_ctx is None:
            ensure_store()
        engine = TaskRunEngine(self, create_task_run(self, flow_ctx), args, kwargs, wait_for)
        if self.is_async:
            return self._call_async(engine, return_state, flow_ctx is None)
        try:
            return run_sync(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise  # a bare raise adds no frame: the traceback starts at the caller's
        finally:
            if flow_ctx is None:
                flush_store()

    async def _call_async(self, engine: TaskRunEngine, return_state: bool, standalone: bool) -> Any:
        try:
            return await run_async(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise
        finally:
            if standalone:
                flush_store()

    def submit(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> TaskRunFuture[R]:
        """Run on the flow's task runner; returns a future at once."""
        flow_ctx = current_flow_run()
        remote = _remote_runner(flow_ctx)
        if remote is not None:
            assert flow_ctx is not None
            return self._submit_remote(remote, [(args, kwargs)], wait_for, None, flow_ctx)[0]
        return self._submit_one(args, kwargs, wait_for, None, flow_ctx)

    def _submit_one(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Any,
        upstream: list[TaskRunId] | None,
        flow_ctx: FlowRunContext | None,
    ) -> TaskRunFuture[R]:
        if flow_ctx is None:
            ensure_store()
        run = create_task_run(self, flow_ctx)
        future: TaskRunFuture[R] = TaskRunFuture(run)
        engine = TaskRunEngine(self, run, args, kwargs, wait_for, future, upstream)
        _submit(flow_ctx, future, lambda: self._drive(engine))
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

    def map(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> TaskRunFutureList[R]:
        """Submit one run per element of the iterable arguments; ``unmapped(x)`` broadcasts."""
        calls = map_arguments(self.name, args, kwargs)
        flow_ctx = current_flow_run()
        # An iterable produced by a task run links every mapped run to that producer.
        upstream = linked_upstream((_unwrap(v) for v in (*args, *kwargs.values())), flow_ctx)
        remote = _remote_runner(flow_ctx)
        if remote is not None:
            assert flow_ctx is not None
            return TaskRunFutureList(
                self._submit_remote(remote, calls, wait_for, upstream, flow_ctx)
            )
        return TaskRunFutureList(
            self._submit_one(a, k, wait_for, upstream, flow_ctx) for a, k in calls
        )

    def _drive(self, engine: TaskRunEngine) -> None:
        if self.is_async:
            import asyncio

            asyncio.run(run_async(engine, return_state=True))
        else:
            run_sync(engine, return_state=True)

    # --- used by the engine -------------------------------------------------------------

    def cache_key(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], flow_ctx: FlowRunContext | None
    ) -> str | None:
        inputs = _bind(self.fn, args, kwargs)
        if self.cache_key_fn is not None:
            try:
                return self.cache_key_fn(_KeyContext(self, flow_ctx), inputs)
            except Exception as error:
                raise CacheKeyError(
                    f"The cache_key_fn of task {self.name!r} raised {type(error).__name__}: "
                    f"{error}; fix it, or leave caching to cache_policy."
                ) from error
        assert self.cache_policy is not None
        flow_run = flow_ctx.flow_run if flow_ctx is not None else None
        context = CacheContext(
            self.name,
            self.fn,
            inputs,
            flow_run.id if flow_run else None,
            flow_run.parameters if flow_run else {},
        )
        return self.cache_policy.compute_key(context)

    def input_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """A stable hash of the call's inputs (raises CacheKeyError if one cannot be)."""
        context = CacheContext(self.name, self.fn, _bind(self.fn, args, kwargs), None, {})
        return INPUTS.compute_key(context)

    def result_storage(self) -> ResultStorage:
        return self._storage or default_storage()

    def expiration_time(self) -> float | None:
        return None if self.cache_expiration is None else time.time() + self.cache_expiration

    def resolve_log_prints(self, flow_ctx: FlowRunContext | None) -> bool:
        if self.log_prints is not None:
            return self.log_prints
        return flow_ctx.log_prints if flow_ctx is not None else False

    def run_hooks(self, run: TaskRun, state: State) -> None:
        hooks = self.on_completion if state.is_completed() else (
            self.on_failure if state.is_failed() else ()
        )
        for hook in hooks:
            try:
                hook(self, run, state)
            except Exception:
                from kernel_ext._logging import engine_logger

                engine_logger().exception("Hook %r of task %r failed", hook, self.name)


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, unmapped) else value


class _KeyContext:
    """What ``cache_key_fn(context, parameters)`` receives, as in Prefect."""

    def __init__(self, task: Task[Any, Any], flow_ctx: FlowRunContext | None) -> None:
        self.task = task
        self.flow_run = flow_ctx.flow_run if flow_ctx is not None else None


def _bind(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}
    bound.apply_defaults()
    return dict(bound.arguments)


_default_runner: ThreadPoolTaskRunner | None = None


def _remote_runner(flow_ctx: FlowRunContext | None) -> RemoteTaskRunner | None:
    if flow_ctx is None:
        return None
    runner = flow_ctx.task_runner
    # An attribute check, not isinstance: a runtime-checkable Protocol costs ~10 µs.
    return runner if getattr(runner, "submit_task_runs", None) is not None else None  # type: ignore[return-value]


def _submit(
    flow_ctx: FlowRunContext | None, future: TaskRunFuture[Any], call: Callable[[], None]
) -> None:
    global _default_runner
    if flow_ctx is not None:
        flow_ctx.futures.append(future)
        flow_ctx.task_runner.submit(call)
        return
    if _default_runner is None:
        # Outside a flow there is no run to scope a runner to: one shared pool serves.
        _default_runner = ThreadPoolTaskRunner()
    _default_runner.submit(call)


def _check_timeout(owner: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or out_of_range(value):
        raise ConfigurationError(
            f"{owner}: timeout_seconds must be a number > 0 and at most ten years, got {value!r}."
        )
    return float(value)


def _check_expiration(owner: str, value: datetime.timedelta | float | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or out_of_range(seconds):
        raise ConfigurationError(
            f"{owner}: cache_expiration must be a positive timedelta or seconds, at most ten "
            f"years, got {value!r}."
        )
    return float(seconds)


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...
@overload
def task(
    *, name: str | None = ..., **options: Any
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


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
