"""Taskbook's runtime: flows, tasks, states, retries and caching, in the kernel or a worker.

    from kernel_ext import flow, task, unmapped, get_run_logger

Names and behaviour follow Prefect's, so a Prefect user is at home. ``import kernel_ext``
stays light: each name loads its module on first use (``flow`` the engine, ``RunInput``
pydantic), and the store (SQLAlchemy) and remote result storage (fsspec) load when a run
first needs them.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:
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
    from kernel_ext._run_input import RunInput
    from kernel_ext._runners import ThreadPoolTaskRunner
    from kernel_ext._states import State, StateType
    from kernel_ext._tags import tags
    from kernel_ext._tasks import Task, task
    from kernel_ext.context import get_run_context
    from kernel_ext.secrets import Secret
    from kernel_ext.transactions import transaction
    from kernel_ext.variables import Variable

__version__ = "0.1.0"

# Each public name and the module it lives in, imported on first use: the store, the CLI
# and the server import this package without paying for the engine (asyncio, inspect,
# the result machinery), and `from kernel_ext import flow` loads what a flow needs.
_HOMES = {
    "allow_failure": "_annotations",
    "opaque": "_annotations",
    "quote": "_annotations",
    **dict.fromkeys(
        (
            "CacheKeyError",
            "ConfigurationError",
            "ParameterValidationError",
            "PauseTimeout",
            "ResultError",
            "StoreError",
            "TaskbookError",
            "TaskRunTimeout",
        ),
        "_errors",
    ),
    "Flow": "_flows",
    "flow": "_flows",
    **dict.fromkeys(("TaskRunFuture", "TaskRunFutureList", "as_completed", "wait"), "_futures"),
    "get_run_logger": "_logging",
    "unmapped": "_mapping",
    **dict.fromkeys(("pause_flow_run", "resume_flow_run", "suspend_flow_run"), "_pause"),
    "exponential_backoff": "_retries",
    "RunInput": "_run_input",  # a pydantic model
    "ThreadPoolTaskRunner": "_runners",
    "State": "_states",
    "StateType": "_states",
    "tags": "_tags",
    "Task": "_tasks",
    "task": "_tasks",
    "get_run_context": "context",
    "transaction": "transactions",
    "Secret": "secrets",  # a pydantic model; cryptography loads on first save or load
    "Variable": "variables",
}


# Subpackages and modules reached as attributes of the package, as an eager import made
# them before (the README's `kernel_ext.store.get_store()`).
_SUBPACKAGES = frozenset(
    (
        "artifacts",
        "runtime",
        "store",
        "context",
        "cache_policies",
        "engine",
        "transactions",
        "compat",
    )
)


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:  # `import kernel_ext; kernel_ext.store.get_store()`
        return _importlib.import_module(f"kernel_ext.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kernel_ext' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"kernel_ext.{home}"), name)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "CacheKeyError",
    "ConfigurationError",
    "Flow",
    "ParameterValidationError",
    "PauseTimeout",
    "ResultError",
    "RunInput",
    "Secret",
    "State",
    "StateType",
    "StoreError",
    "Task",
    "TaskRunFuture",
    "TaskRunFutureList",
    "TaskRunTimeout",
    "TaskbookError",
    "ThreadPoolTaskRunner",
    "Variable",
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
