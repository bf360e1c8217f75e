"""The run context, as Prefect's ``prefect.context``: which run the calling code is in.

    from kernel_ext.context import get_run_context, FlowRunContext, tags

    @task
    def step():
        run = get_run_context().task_run      # the TaskRunContext's run
        flow = FlowRunContext.get()           # or None outside a flow

``FlowRunContext.get()`` and ``TaskRunContext.get()`` return the current context or None.
For the attributes of a run, ``kernel_ext.runtime`` is simpler and also works outside a
run.
"""

from __future__ import annotations

from kernel_ext._context import FlowRunContext, TaskRunContext
from kernel_ext._errors import MissingContextError
from kernel_ext._tags import tags

__all__ = ["FlowRunContext", "MissingContextError", "TaskRunContext", "get_run_context", "tags"]


def get_run_context() -> FlowRunContext | TaskRunContext:
    """The innermost run around the calling code: its task run, else its flow run.

    A subflow called inside a task is in the subflow's run, not the task's, as in Prefect.
    Raises ``MissingContextError`` outside any run.
    """
    task_context = TaskRunContext.get()
    flow_context = FlowRunContext.get()
    if task_context is not None and flow_context is not None:
        in_subflow = flow_context.flow_run.id != task_context.task_run.flow_run_id
        return flow_context if in_subflow else task_context
    if task_context is not None:
        return task_context
    if flow_context is not None:
        return flow_context
    raise MissingContextError(
        "get_run_context() was called outside any flow run or task run; call it inside a "
        "@flow or @task function, or read kernel_ext.runtime.flow_run / .task_run, whose "
        "attributes are None outside a run."
    )
