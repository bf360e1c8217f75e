"""``prefect.futures``: Taskbook's ``TaskRunFuture`` under Prefect's names, ``wait`` and
``as_completed``. Every Taskbook future (thread pool and Dask alike) is a
``TaskRunFuture``, so ``PrefectFuture`` and its subclasses' names all stand for it."""

from __future__ import annotations

from kernel_ext._futures import TaskRunFuture, TaskRunFutureList, as_completed, wait
from kernel_ext.compat._lazy import lazy_attributes

__all__ = [
    "PrefectConcurrentFuture",
    "PrefectDistributedFuture",
    "PrefectFuture",
    "PrefectFutureList",
    "PrefectTaskRunFuture",
    "as_completed",
    "wait",
]

PrefectFuture = TaskRunFuture
PrefectTaskRunFuture = TaskRunFuture
PrefectConcurrentFuture = TaskRunFuture
PrefectDistributedFuture = TaskRunFuture
PrefectFutureList = TaskRunFutureList

__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "PrefectFlowRunFuture": "a subflow runs when it is called; call the flow",
        "resolve_futures_to_states": "call future.wait() and read future.state",
        "resolve_futures_to_results": "call future.result() on each future",
    },
)
