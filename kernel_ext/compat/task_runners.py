"""``prefect.task_runners``: Taskbook's ``ThreadPoolTaskRunner`` (and the ``TaskRunner``
protocol). Dask: ``kernel_ext.dask`` (Prefect's ``prefect_dask``)."""

from __future__ import annotations

from kernel_ext._runners import TaskRunner, ThreadPoolTaskRunner
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["TaskRunner", "ThreadPoolTaskRunner"]

__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "ProcessPoolTaskRunner": "use ThreadPoolTaskRunner, or the Dask runner in kernel_ext.dask "
        "for work that needs processes",
        "PrefectTaskRunner": "use ThreadPoolTaskRunner",
    },
)
