"""``@flow``: a function whose calls become flow runs, the unit of orchestration.

Tasks called inside a flow run belong to it; flows called inside a flow are subflows.
Parameters are validated against the signature's annotations before the run starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from kernel_ext._errors import ConfigurationError
from kernel_ext._names import check_name, check_run_name, run_name
from kernel_ext._options import check_timeout
from kernel_ext._parameters import ParameterBinder
from kernel_ext._results import check_serializer, storage_from
from kernel_ext._retries import DelaySpec, RetryPolicy
from kernel_ext._run_records import FlowRun
from kernel_ext._runnables import Runnable, check_reserved, hook_adder, hook_list, unwrap_method
from kernel_ext._runners import TaskRunner, ThreadPoolTaskRunner
from kernel_ext._states import State
from kernel_ext._tracebacks import without_engine_frames
from kernel_ext.engine._hooks import FLOW_HOOKS, HookSet
from kernel_ext.engine.flow_run import (
    FlowRunEngine,
    run_flow_async,
    run_flow_stream,
    run_flow_stream_async,
    run_flow_sync,
)

if TYPE_CHECKING:
    from typing import Unpack

    from kernel_ext._options import FlowOptions

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")
Hook = Callable[["Flow[Any, Any]", FlowRun, State], Any]


class Flow(Runnable, Generic[P, R]):
    """A function with orchestration options; see ``flow`` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: DelaySpec = None,
        task_runner: TaskRunner | None = None,
        description: str | None = None,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        cache_result_in_memory: bool = True,
        log_prints: bool | None = None,
        on_completion: list[Hook] | None = None,
        on_failure: list[Hook] | None = None,
        on_cancellation: list[Hook] | None = None,
        on_crashed: list[Hook] | None = None,
        on_running: list[Hook] | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        self._options = {k: v for k, v in locals().items() if k not in ("self", "fn")}
        fn, self._method_kind = unwrap_method(fn)
        if not callable(fn):
            raise ConfigurationError(f"@flow needs a function, got {type(fn).__name__}.")
        check_reserved(fn)
        self.fn = fn
        default = str(getattr(fn, "__name__", type(fn).__name__)).replace("_", "-")
        self.name: str = check_name(name or default.replace("<lambda>", "unknown-lambda"))
        self.version = version if version is not None else _file_hash(fn)
        self.description = description or inspect.getdoc(fn)
        self.flow_run_name = check_run_name(f"flow {self.name!r}", "flow_run_name", flow_run_name)
        self.tags = tuple(tags or ())
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.streams = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        owner = f"flow {self.name!r}"
        self.retry_policy = RetryPolicy.build(owner, retries, retry_delay_seconds, None, None)
        self.timeout_seconds = check_timeout(owner, timeout_seconds)
        self.log_prints = log_prints
        if task_runner is not None and not hasattr(task_runner, "duplicate"):
            raise ConfigurationError(
                f"{owner}: task_runner must be a task runner such as ThreadPoolTaskRunner(), "
                f"got {task_runner!r}."
            )
        self.task_runner: TaskRunner = task_runner or ThreadPoolTaskRunner()
        self.binder = ParameterBinder(fn, self.name, validate_parameters)
        self.should_validate_parameters = validate_parameters
        self.result_serializer = check_serializer(owner, result_serializer)
        self.persist_result = (
            persist_result
            if persist_result is not None
            else (True if (result_storage is not None or result_serializer is not None) else None)
        )
        self.result_storage = result_storage  # as given, as Prefect keeps it
        self._storage = storage_from(result_storage)
        self.cache_result_in_memory = cache_result_in_memory
        self.hooks = HookSet(owner, FLOW_HOOKS, self._options)
        update_wrapper(self, fn)  # type: ignore[arg-type,unused-ignore]

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"

    on_cancellation = hook_adder("on_cancellation")
    on_crashed = hook_adder("on_crashed")
    on_cancellation_hooks = hook_list("on_cancellation")
    on_crashed_hooks = hook_list("on_crashed")

    def with_options(self, **options: Unpack[FlowOptions]) -> Flow[P, R]:
        """A copy of this flow with some options changed (hooks added since kept)."""
        return self._copy_with(dict(options))

    def deploy(self, name: str, **options: Any) -> Any:
        """Deploy this flow as deployment ``name`` (Prefect's ``Flow.deploy``): its
        snapshot is the file it is defined in (or the saved notebook, up to its
        definition), its parameter schema its signature; the store's workers run it.
        Takes Prefect's schedule options (``interval``, ``cron``, ``schedules``,
        ``paused``), ``parameters``, ``description``, ``tags``, ``concurrency_limit``,
        and ``profile``; returns the deployment's id."""
        from kernel_ext._deployers import deployer

        return deployer("deploy")(self, name, **options)

    def serve(self, name: str | None = None, **options: Any) -> Any:
        """Deploy this flow and serve its runs from this process (Prefect's
        ``Flow.serve``): a script blocks until Ctrl-C; a notebook gets a ``ServedFlow``
        back at once and keeps its kernel free (``.stop()`` ends it)."""
        from kernel_ext._deployers import deployer

        return deployer("serve")(self, name, **options)

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """``parameters`` as JSON-able values, as Prefect encodes them (dates as ISO
        text, sets as lists, paths as text); a value that cannot be encoded becomes a
        short text standing for it."""
        from pydantic_core import to_jsonable_python

        encoded: dict[str, Any] = {}
        for name, value in parameters.items():
            try:
                encoded[name] = to_jsonable_python(value)
            except Exception:
                encoded[name] = f"<{type(value).__name__}>"
        return encoded

    def resolve_run_name(self, parameters: dict[str, Any]) -> str:
        return run_name(self.flow_run_name, parameters, "flow_run_name")

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def __call__(self, *args: Any, return_state: bool = ..., **kwargs: Any) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        args = self._with_bound(args)
        engine = FlowRunEngine(self, args, kwargs, wait_for)
        if self.streams:
            return (run_flow_stream_async if self.is_async else run_flow_stream)(engine)
        if self.is_async:
            return _trimmed(run_flow_async(engine, return_state))
        try:
            return run_flow_sync(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise  # a bare raise adds no frame: the traceback starts at the caller's


def _file_hash(fn: Callable[..., Any]) -> str | None:
    """Prefect's default flow version: a hash of the file that defines the flow."""
    path = getattr(getattr(fn, "__code__", None), "co_filename", None)
    try:
        with open(path, "rb") as handle:  # type: ignore[arg-type]
            data = handle.read()
    except (OSError, TypeError):
        return None
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def _trimmed(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except Exception as error:
        without_engine_frames(error)
        raise


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...
@overload
def flow(**options: Unpack[FlowOptions]) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow. Options (all optional), as in Prefect:

    name, description, flow_run_name, tags, retries, retry_delay_seconds, timeout_seconds,
    log_prints, task_runner (default ``ThreadPoolTaskRunner()``), validate_parameters,
    on_completion / on_failure (lists of hook(flow, flow_run, state)).
    """
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
