"""In-memory records of flow runs and task runs, as the engine builds them.

The engine mutates these while a run progresses; the store writer reads them when it
flushes. ``persisted`` is owned by the writer: it flips once the row exists.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, NewType

from kernel_ext._states import State

__all__ = ["FlowRun", "FlowRunId", "TaskRun", "TaskRunId", "new_id"]

FlowRunId = NewType("FlowRunId", str)
TaskRunId = NewType("TaskRunId", str)


def new_id() -> str:
    """A new run id: a UUID version 7 (RFC 9562), the time in its leading bits.

    Ids made in time order land at the end of the store's indexes on them (task runs,
    history, logs) instead of on random pages all over them: a batch dirties a few
    pages, and a big store's writes stay as fast as a small one's. The unix time in
    milliseconds, then 12 bits of the millisecond's fraction (RFC 9562, method 3), then
    62 random bits: ids of one process sort as they were made, to a quarter microsecond.
    """
    ns = time.time_ns()
    ms, fraction = divmod(ns, 1_000_000)
    sub_ms = fraction * 4096 // 1_000_000
    value = (ms << 80) | ((0x7000 | sub_ms) << 64) | _VARIANT | (_random_bits() >> 2)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_VARIANT = 0b10 << 62


def _random_bits() -> int:
    return int.from_bytes(os.urandom(8))


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
