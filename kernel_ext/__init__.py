"""Taskbook's runtime: flows, tasks, states, retries and caching, in the kernel or a worker.

    from kernel_ext import flow, task, unmapped, get_run_logger

Names and behaviour follow Prefect's, so a Prefect user is at home. ``import kernel_ext``
stays light: the store (SQLAlchemy), parameter validation (pydantic) and remote result
storage (fsspec) load on first use.
"""

from __future__ import annotations

from kernel_ext._annotations import allow_failure, opaque, quote
from kernel_ext._errors import (
    CacheKeyError,
    ConfigurationError,
    ParameterValidationError,
    PauseTimeout,
    ResultError,
    StoreError,
    TaskbookError,
    TaskRunTimeout,
)
from kernel_ext._flows import Flow, flow
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList, as_completed, wait
from kernel_ext._logging import get_run_logger
from kernel_ext._mapping import unmapped
from kernel_ext._pause import pause_flow_run, resume_flow_run, suspend_flow_run
from kernel_ext._retries import exponential_backoff
from kernel_ext._runners import ThreadPoolTaskRunner
from kernel_ext._states import State, StateType
from kernel_ext._tags import tags
from kernel_ext._tasks import Task, task
from kernel_ext.context import get_run_context

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # RunInput is a pydantic model: importing it eagerly would load pydantic.
    if name == "RunInput":
        from kernel_ext._run_input import RunInput

        return RunInput
    if name in ("transaction", "runtime"):  # loaded on first use
        import importlib

        if name == "runtime":
            return importlib.import_module("kernel_ext.runtime")
        return importlib.import_module("kernel_ext.transactions").transaction
    raise AttributeError(f"module 'kernel_ext' has no attribute {name!r}")


__all__ = [
    "CacheKeyError",
    "ConfigurationError",
    "Flow",
    "ParameterValidationError",
    "PauseTimeout",
    "ResultError",
    "RunInput",
    "State",
    "StateType",
    "StoreError",
    "Task",
    "TaskRunFuture",
    "TaskRunFutureList",
    "TaskRunTimeout",
    "TaskbookError",
    "ThreadPoolTaskRunner",
    "allow_failure",
    "as_completed",
    "exponential_backoff",
    "flow",
    "get_run_context",
    "get_run_logger",
    "opaque",
    "pause_flow_run",
    "quote",
    "resume_flow_run",
    "runtime",
    "suspend_flow_run",
    "tags",
    "task",
    "transaction",
    "unmapped",
    "wait",
]


def load_ipython_extension(shell: object) -> None:
    """``%load_ext kernel_ext``: register the ``%%task`` and ``%tasks`` magics."""
    from kernel_ext.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: object) -> None:
    from kernel_ext.magics import unload_ipython_extension as unload

    unload(shell)
