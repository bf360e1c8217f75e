"""In-memory records of flow runs and task runs, as the engine builds them.

The engine mutates these while a run progresses; the store writer reads them when it
flushes. ``persisted`` is owned by the writer: it flips once the row exists.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NewType

from kernel_ext._states import State

__all__ = ["FlowRun", "FlowRunId", "TaskRun", "TaskRunId", "new_id"]

FlowRunId = NewType("FlowRunId", str)
TaskRunId = NewType("TaskRunId", str)


def new_id() -> str:
    return str(uuid.uuid4())


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
