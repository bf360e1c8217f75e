"""``prefect.tasks``: Taskbook's ``Task``, ``task`` and ``exponential_backoff``."""

from __future__ import annotations

from kernel_ext._retries import exponential_backoff
from kernel_ext._tasks import Task, task
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["Task", "exponential_backoff", "task"]

__getattr__ = lazy_attributes(__name__, {}, {
    "task_input_hash": "cache on the inputs with cache_policy=INPUTS "
                       "(kernel_ext.cache_policies), or pass your own cache_key_fn",
})  # fmt: skip
