"""States of flow and task runs, with Prefect's types and names.

A state has a *type* (what the engine acts on) and a *name* (what the user sees).
Several names share one type, exactly as in Prefect:

    type        names
    SCHEDULED   Scheduled, Late, AwaitingRetry, AwaitingConcurrencySlot
    PENDING     Pending
    RUNNING     Running, Retrying
    PAUSED      Paused, Suspended
    COMPLETED   Completed, Cached
    FAILED      Failed, TimedOut
    CRASHED     Crashed
    CANCELLING  Cancelling
    CANCELLED   Cancelled

Every transition is an immutable ``State``; a run's history is the ordered list of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from kernel_ext._errors import (
    CancelledRun,
    CrashedRun,
    FailedRun,
    MissingResult,
    PausedRun,
    UnfinishedRun,
)
from kernel_ext._results import StoredResult

__all__ = [
    "AwaitingConcurrencySlot",
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateType",
    "Suspended",
    "TimedOut",
]


class StateType(str, Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    def __repr__(self) -> str:
        # As Prefect's: a record holding one prints as StateType.COMPLETED.
        return f"{type(self).__name__}.{self.value}"


# A state's name when none is given: its type's, capitalised ("Completed").
_DEFAULT_NAMES = {kind: kind.value.capitalize() for kind in StateType}

FINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)
# The same, as the strings the store keeps (for queries and rows read back).
FINAL_TYPE_VALUES = tuple(sorted(t.value for t in FINAL_TYPES))
# The types of a deployment run that holds a worker (and a slot of its deployment's
# limit): the ones its worker ends, or its worker's death leaves Crashed.
BUSY_TYPES = (StateType.PENDING, StateType.RUNNING, StateType.CANCELLING)
# The types of a run that did not complete because something went wrong.
FAILED_TYPES = frozenset({StateType.FAILED, StateType.CRASHED})
FAILED_TYPE_VALUES = tuple(sorted(t.value for t in FAILED_TYPES))


class State:
    """One state of a run: type, display name, time, message and payload.

    ``data`` holds the run's return value (Completed/Cached) or the exception
    (Failed/TimedOut/Crashed). ``details`` holds small JSON-able facts the store keeps
    (cache key, result location, retry attempt, scheduled time).
    """

    __slots__ = ("data", "details", "message", "name", "run_id", "timestamp", "type")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        details: dict[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.type = type
        self.name = name or _DEFAULT_NAMES[type]
        self.timestamp = time.time() if timestamp is None else timestamp
        self.message = message
        self.data = data
        self.details = details
        # The run this state belongs to; None for a state made by hand (``Failed(...)``
        # returned from a task is taken as it is, a run's state is aggregated).
        self.run_id: str | None = None

    def __repr__(self) -> str:
        return f"{self.name}({self.message!r})" if self.message else f"{self.name}()"

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; raises the run's exception if it did not complete.

        In an ``async def`` flow or task, as in Prefect, it returns an awaitable:
        ``await state.result()``. Outside any run it returns the value at once, also
        where an event loop runs: a notebook's cells run inside one, and a coroutine
        there would break every ``state.result()`` in a cell (``await state.aresult()``
        is the spelling for async code outside runs).
        """
        if _in_async_run():
            return self.aresult(raise_on_failure)
        return self.value(raise_on_failure)

    async def aresult(self, raise_on_failure: bool = True) -> Any:
        """``result()`` for async code."""
        return self.value(raise_on_failure)

    def value(self, raise_on_failure: bool = True) -> Any:
        """``result()`` without the async dispatch (what the engine itself uses)."""
        if self.type is StateType.COMPLETED:
            data = self.data
            if type(data) is StoredResult:  # kept on disk only
                return data.load()
            return data
        error = state_exception(self)
        if raise_on_failure:
            raise error
        return error


def state_exception(state: State) -> BaseException:
    """The exception a state that did not complete stands for, as Prefect derives it: the
    exception it holds, else that of the first failed state it holds, else one that
    names the state."""
    data = state.data
    if state.type in (StateType.FAILED, StateType.CRASHED):
        if isinstance(data, BaseException):
            return data
        if isinstance(data, State):
            return state_exception(data)
        if is_state_iterable(data):
            for inner in data:
                if inner.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
                    return state_exception(inner)
        wrapper = FailedRun if state.type is StateType.FAILED else CrashedRun
        return wrapper(state.message or f"The run ended {state.name}.")
    if state.type is StateType.CANCELLED:
        if isinstance(data, CancelledRun):
            return data
        return CancelledRun(state.message or "The run was cancelled.")
    if state.type is StateType.PAUSED:
        return PausedRun(state.message or "The run is paused; resume it first.")
    if state.type is StateType.COMPLETED:
        return MissingResult("The run completed; it holds a result, not an exception.")
    return UnfinishedRun(
        f"The run is {state.name}, not final; wait for it before asking for its result."
    )


def is_state_iterable(value: Any) -> bool:
    """A non-empty list, tuple or set of states only (what a run's outcome aggregates)."""
    return (
        isinstance(value, (list, tuple, set))
        and bool(value)
        and all(isinstance(v, State) for v in value)
    )


def _in_async_run() -> bool:
    """Prefect's rule: async inside an ``async def`` run; outside runs, where an event
    loop runs in this thread, except in a notebook's kernel (its cells always run
    inside a loop, and there ``state.result()`` must stay a value)."""
    from kernel_ext._context import current_flow_run, task_run_context

    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return bool(getattr(task_ctx.task, "is_async", False))
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        return bool(getattr(flow_ctx.flow, "is_async", False))
    import asyncio

    if asyncio._get_running_loop() is None:
        return False
    return not _in_kernel_main_thread()


def _in_kernel_main_thread() -> bool:
    import sys
    import threading

    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return False
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None


def _factory(type_: StateType, name: str | None = None) -> Callable[..., State]:
    def make(
        message: str | None = None,
        data: Any = None,
        details: dict[str, Any] | None = None,
        *,
        name: str | None = name,
        timestamp: float | None = None,
    ) -> State:
        return State(type_, name, message, data, details, timestamp)

    make.__name__ = name or type_.value.capitalize()
    make.__doc__ = f"A new {make.__name__} state (type {type_.value})."
    return make


Scheduled = _factory(StateType.SCHEDULED)
Late = _factory(StateType.SCHEDULED, "Late")
AwaitingRetry = _factory(StateType.SCHEDULED, "AwaitingRetry")
AwaitingConcurrencySlot = _factory(StateType.SCHEDULED, "AwaitingConcurrencySlot")
Pending = _factory(StateType.PENDING)
Running = _factory(StateType.RUNNING)
Retrying = _factory(StateType.RUNNING, "Retrying")
Paused = _factory(StateType.PAUSED)
Suspended = _factory(StateType.PAUSED, "Suspended")
Completed = _factory(StateType.COMPLETED)
Cached = _factory(StateType.COMPLETED, "Cached")
Failed = _factory(StateType.FAILED)
TimedOut = _factory(StateType.FAILED, "TimedOut")
Crashed = _factory(StateType.CRASHED)
Cancelling = _factory(StateType.CANCELLING)
Cancelled = _factory(StateType.CANCELLED)

# Every state name a run can show, for filters that take a name: the factories' names,
# "Resuming" (a Suspended run that was answered and waits for a worker again) and
# "Skipped" (a schedule slot missed while nothing ran).
STATE_NAMES = (
    *(
        make.__name__
        for make in (
            Scheduled,
            Late,
            AwaitingRetry,
            AwaitingConcurrencySlot,
            Pending,
            Running,
            Retrying,
            Paused,
            Suspended,
            Completed,
            Cached,
            Failed,
            TimedOut,
            Crashed,
            Cancelling,
            Cancelled,
        )
    ),
    "Resuming",
    "Skipped",
)


def parse_state_filter(text: str) -> str:
    """``text`` as a state name or type, any case ("failed", "FAILED"); the canonical
    spelling of the name, or the type's value. An unknown state raises, listing them."""
    from kernel_ext._errors import ConfigurationError

    for name in STATE_NAMES:
        if name.lower() == text.lower():
            return name
    for kind in StateType:
        if kind.value == text.upper():
            return kind.value
    raise ConfigurationError(
        f"Unknown state {text!r}; use one of {', '.join(STATE_NAMES)} (any case)."
    )
