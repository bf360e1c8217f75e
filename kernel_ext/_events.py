"""The engine's event stream.

The engine emits one event per state transition, log line and persisted result. The
store writer, the live widgets and anything else subscribe to the same stream.
Subscribers run on the emitting thread, so they must be cheap (append to a queue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Union

from kernel_ext._run_records import FlowRun, TaskRun
from kernel_ext._states import State

__all__ = [
    "EmittedEvent",
    "Event",
    "EventBus",
    "LogEvent",
    "ResultEvent",
    "RunsSubmitted",
    "StateEvent",
    "bus",
]


class StateEvent(NamedTuple):
    """``run`` entered ``state``; the first event of a run creates its row."""

    run: FlowRun | TaskRun
    state: State


class LogEvent(NamedTuple):
    """A log line of a run (from ``get_run_logger()`` or a captured print)."""

    flow_run_id: str | None
    task_run_id: str | None
    level: int
    logger: str
    message: str
    timestamp: float


class ResultEvent(NamedTuple):
    """A result was persisted at ``location``; indexed by ``cache_key`` when cached."""

    task_run_id: str
    cache_key: str | None
    location: str
    created: float
    expiration: float | None


class RunsSubmitted(NamedTuple):
    """Task runs handed to other processes (Dask workers), still Pending here.

    For the live graph only: the store skips it, as the process that executes each run
    writes its states.
    """

    runs: tuple[TaskRun, ...]


class EmittedEvent(NamedTuple):
    """An event user code emitted (``kernel_ext.events.emit_event``), for the store.

    Handed to the store directly rather than through the bus: only the store keeps them.
    """

    event: Any  # kernel_ext.events.Event (pydantic: imported where it is built)


Event = Union[StateEvent, LogEvent, ResultEvent, RunsSubmitted, EmittedEvent]
Subscriber = Callable[[Event], None]


class EventBus:
    """Fans each event out to the current subscribers, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns a function that removes it."""
        self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def emit(self, event: Event) -> None:
        for subscriber in self._subscribers:
            subscriber(event)


bus = EventBus()
