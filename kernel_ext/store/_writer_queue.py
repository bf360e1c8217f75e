"""What the store's queue holds besides events, and how the writer takes from it.

The engine appends events to a deque (``Store.submit``); ``flush`` appends a
``FlushTicket``, set once everything before it is committed. Dask submissions
(``RunsSubmitted``) pass through for the live graph and are never written.
"""

from __future__ import annotations

import threading
from collections import deque

from kernel_ext._events import Event, LogEvent, ResultEvent, RunsSubmitted, StateEvent

__all__ = ["FlushTicket", "drain", "forget", "happened"]


class FlushTicket(threading.Event):
    """Queued by ``flush``; set once every event queued before it is committed."""


def drain(queue: deque[Event | FlushTicket], limit: int) -> tuple[list[Event], list[FlushTicket]]:
    """Up to ``limit`` events from the front of ``queue``, and the tickets among them."""
    events: list[Event] = []
    tickets: list[FlushTicket] = []
    while queue and len(events) < limit:
        item = queue.popleft()
        if type(item) is FlushTicket:
            tickets.append(item)
        elif type(item) is not RunsSubmitted:  # for the live graph only, never written
            events.append(item)  # type: ignore[arg-type]
    return events, tickets


def happened(item: Event | FlushTicket) -> float | None:
    """When an event happened (a flush ticket or a Dask submission: unknown)."""
    kind = type(item)
    if kind is StateEvent:
        return item.state.timestamp  # type: ignore[union-attr]
    if kind is LogEvent:
        return item.timestamp  # type: ignore[union-attr]
    if kind is ResultEvent:
        return item.created  # type: ignore[union-attr]
    return None


def forget(queue: deque[Event | FlushTicket], batch: list[Event | FlushTicket]) -> None:
    """Take ``batch``'s items off the front of ``queue``: those still there (so it can
    run again after an interruption, and takes nothing another thread put there)."""
    for item in batch:
        if queue and queue[0] is item:
            queue.popleft()
