"""``prefect.tasks``: Taskbook's ``Task``, ``task`` and ``exponential_backoff``."""

from __future__ import annotations

from kernel_ext._retries import exponential_backoff
from kernel_ext._tasks import Task, task
from kernel_ext.cache_policies import task_input_hash

__all__ = ["Task", "exponential_backoff", "task", "task_input_hash"]
