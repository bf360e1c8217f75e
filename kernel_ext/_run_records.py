"""In-memory records of flow runs and task runs, as the engine builds them.

The engine mutates these while a run progresses; the store writer reads them when it
flushes. ``persisted`` is owned by the writer: it flips once the row exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NewType

from kernel_ext._states import State

__all__ = ["FlowRun", "FlowRunId", "TaskRun", "TaskRunId", "new_id"]

FlowRunId = NewType("FlowRunId", str)
TaskRunId = NewType("TaskRunId", str)


def new_id() -> str:
    """A new run id: a random UUID (version 4), as ``str(uuid.uuid4())`` makes it, in
    a fraction of its time (one is made per task run).

    Random rather than time-ordered (version 7), although ordered ids would land at the
    end of the store's indexes instead of all over them: a run is named by the first
    characters of its id (``taskbook runs show 3f2a9c1e``), and ids made in one minute
    would share them."""
    value = next(_random, None)
    if value is None:
        value = next(_refill())
    text = f"{(value & _CLEAR) | _VERSION_4:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_CLEAR = ~((0xF << 76) | (0b11 << 62)) & ((1 << 128) - 1)  # version and variant bits
_VERSION_4 = (0x4 << 76) | (0b10 << 62)
_BATCH = 256


def _refill() -> Iterator[int]:
    """The next ``_BATCH`` random 128-bit numbers, read from the OS in one call.

    ``os.urandom`` lets go of the GIL for its system call, and with the store's writer
    thread busy, getting it back cost more than the call itself (15 us a run id). Each
    number is taken once: a list iterator hands out its items atomically, and threads
    that refill at once each take from their own batch."""
    global _random
    data = os.urandom(16 * _BATCH)
    batch = iter([int.from_bytes(data[i : i + 16]) for i in range(0, len(data), 16)])
    _random = batch
    return batch


def _forget_batch() -> None:
    """In a forked child: the parent's remaining numbers are the parent's ids."""
    global _random
    _random = iter(())


_random: Iterator[int] = iter(())
os.register_at_fork(after_in_child=_forget_batch)


@dataclass(slots=True, eq=False)
class FlowRun:
    """One execution of a flow: identity, parameters and current state."""

    id: FlowRunId
    name: str
    flow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_task_run_id: TaskRunId | None = None
    tags: tuple[str, ...] = ()
    state: State | None = None
    start_time: float | None = None
    end_time: float | None = None
    run_count: int = 0
    created: float = field(default_factory=time.time)
    persisted: bool = False


@dataclass(slots=True, eq=False)
class TaskRun:
    """One execution of a task: identity, the runs it consumed, and current state.

    ``flow_run_id`` is None for a task called outside any flow.
    ``upstream`` lists the task runs whose results fed this one (data and wait_for edges).
    """

    id: TaskRunId
    name: str
    task_key: str
    flow_run_id: FlowRunId | None
    upstream: list[TaskRunId] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    state: State | None = None
    start_time: float | None = None
    end_time: float | None = None
    run_count: int = 0
    cache_key: str | None = None
    created: float = field(default_factory=time.time)
    persisted: bool = False
