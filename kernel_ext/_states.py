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

from kernel_ext._errors import CancelledRun, UnfinishedRun

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


FINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)
# The same, as the strings the store keeps (for queries and rows read back).
FINAL_TYPE_VALUES = tuple(sorted(t.value for t in FINAL_TYPES))


class State:
    """One state of a run: type, display name, time, message and payload.

    ``data`` holds the run's return value (Completed/Cached) or the exception
    (Failed/TimedOut/Crashed). ``details`` holds small JSON-able facts the store keeps
    (cache key, result location, retry attempt, scheduled time).
    """

    __slots__ = ("data", "details", "message", "name", "timestamp", "type")

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
        self.name = name or type.value.capitalize()
        self.timestamp = time.time() if timestamp is None else timestamp
        self.message = message
        self.data = data
        self.details = details

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

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; raises the run's exception if it failed."""
        if self.type is StateType.COMPLETED:
            return self.data
        if self.type is StateType.CANCELLED:
            error: BaseException = CancelledRun(self.message or "The run was cancelled.")
        elif self.type in (StateType.FAILED, StateType.CRASHED):
            error = self.data if isinstance(self.data, BaseException) else RuntimeError(
                self.message or f"The run ended {self.name}."
            )
        else:
            error = UnfinishedRun(
                f"The run is {self.name}, not final; wait for it before asking for its result."
            )
        if raise_on_failure:
            raise error
        return error


def _factory(type_: StateType, name: str | None = None) -> Callable[..., State]:
    def make(
        message: str | None = None,
        data: Any = None,
        details: dict[str, Any] | None = None,
    ) -> State:
        return State(type_, name, message, data, details)

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
    *(make.__name__ for make in (
        Scheduled, Late, AwaitingRetry, AwaitingConcurrencySlot, Pending, Running, Retrying,
        Paused, Suspended, Completed, Cached, Failed, TimedOut, Crashed, Cancelling, Cancelled,
    )),
    "Resuming", "Skipped",
)  # fmt: skip


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
