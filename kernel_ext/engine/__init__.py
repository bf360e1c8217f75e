"""The engine: how a flow run or a task run moves from Pending to its final state.

_steps      the lifecycle's steps and the drivers that perform them (sync, async,
            streamed), so the attempt/retry/timeout ladder is written once
_outcome    what a returned value, state or future makes of the run (Prefect's rules)
_hooks      which state hooks a state calls
task_run    the task run engine and its lifecycle
flow_run    the flow run engine and its lifecycle
"""

from __future__ import annotations

from kernel_ext.engine.flow_run import (
    FlowRunEngine,
    run_flow_async,
    run_flow_stream,
    run_flow_stream_async,
    run_flow_sync,
)
from kernel_ext.engine.task_run import (
    TaskRunEngine,
    create_task_run,
    run_task_async,
    run_task_stream,
    run_task_stream_async,
    run_task_sync,
)

__all__ = [
    "FlowRunEngine",
    "TaskRunEngine",
    "create_task_run",
    "run_flow_async",
    "run_flow_stream",
    "run_flow_stream_async",
    "run_flow_sync",
    "run_task_async",
    "run_task_stream",
    "run_task_stream_async",
    "run_task_sync",
]
