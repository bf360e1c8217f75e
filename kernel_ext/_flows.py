"""``@flow``: a function whose calls become flow runs, the unit of orchestration.

Tasks called inside a flow run belong to it; flows called inside a flow are subflows.
Parameters are validated against the signature's annotations before the run starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from functools import update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar, overload

from kernel_ext._errors import ConfigurationError
from kernel_ext._flow_engine import FlowRunEngine, run_async, run_sync
from kernel_ext._parameters import ParameterBinder
from kernel_ext._retries import DelaySpec, RetryPolicy
from kernel_ext._runners import TaskRunner, ThreadPoolTaskRunner
from kernel_ext._runs import FlowRun
from kernel_ext._states import State
from kernel_ext._tasks import _check_timeout
from kernel_ext._tracebacks import without_engine_frames

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")
Hook = Callable[["Flow[Any, Any]", FlowRun, State], None]


class Flow(Generic[P, R]):
    """A function with orchestration options; see ``flow`` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        description: str | None = None,
        flow_run_name: str | None = None,
        tags: Iterable[str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: DelaySpec = None,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        task_runner: TaskRunner | None = None,
        validate_parameters: bool = True,
        on_completion: list[Hook] | None = None,
        on_failure: list[Hook] | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"@flow needs a function, got {type(fn).__name__}.")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__)).replace("_", "-")
        self.description = description or inspect.getdoc(fn)
        self.flow_run_name = flow_run_name
        self.tags = tuple(tags or ())
        self.is_async = inspect.iscoroutinefunction(fn)
        owner = f"flow {self.name!r}"
        self.retry_policy = RetryPolicy.build(owner, retries, retry_delay_seconds, None, None)
        self.timeout_seconds = _check_timeout(owner, timeout_seconds)
        self.log_prints = log_prints
        if task_runner is not None and not hasattr(task_runner, "duplicate"):
            raise ConfigurationError(
                f"{owner}: task_runner must be a task runner such as ThreadPoolTaskRunner(), "
                f"got {task_runner!r}."
            )
        self.task_runner: TaskRunner = task_runner or ThreadPoolTaskRunner()
        self.binder = ParameterBinder(fn, self.name, validate_parameters)
        self.on_completion = list(on_completion or ())
        self.on_failure = list(on_failure or ())
        self._options = dict(
            name=name, description=description, flow_run_name=flow_run_name, tags=tags,
            retries=retries, retry_delay_seconds=retry_delay_seconds,
            timeout_seconds=timeout_seconds, log_prints=log_prints, task_runner=task_runner,
            validate_parameters=validate_parameters, on_completion=on_completion,
            on_failure=on_failure,
        )  # fmt: skip
        update_wrapper(self, fn)  # type: ignore[arg-type,unused-ignore]

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"

    @property
    def retries(self) -> int:
        return self.retry_policy.retries

    def with_options(self, **options: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed."""
        return Flow(self.fn, **{**self._options, **options})

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def __call__(self, *args: Any, return_state: bool = ..., **kwargs: Any) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = kwargs.pop("return_state", False)
        engine = FlowRunEngine(self, args, kwargs)
        if self.is_async:
            return _trimmed(run_async(engine, return_state))
        try:
            return run_sync(engine, return_state)
        except Exception as error:
            without_engine_frames(error)
            raise  # a bare raise adds no frame: the traceback starts at the caller's

    def run_hooks(self, run: FlowRun, state: State) -> None:
        hooks = self.on_completion if state.is_completed() else (
            self.on_failure if state.is_failed() else ()
        )
        for hook in hooks:
            try:
                hook(self, run, state)
            except Exception:
                from kernel_ext._logging import engine_logger

                engine_logger().exception("Hook %r of flow %r failed", hook, self.name)


async def _trimmed(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except Exception as error:
        without_engine_frames(error)
        raise


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...
@overload
def flow(*, name: str | None = ..., **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow. Options (all optional), as in Prefect:

    name, description, flow_run_name, tags, retries, retry_delay_seconds, timeout_seconds,
    log_prints, task_runner (default ``ThreadPoolTaskRunner()``), validate_parameters,
    on_completion / on_failure (lists of hook(flow, flow_run, state)).
    """
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
