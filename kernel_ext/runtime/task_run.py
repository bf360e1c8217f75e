"""The current task run's attributes, read when asked: ``runtime.task_run.name``.

Outside a task run each attribute is empty (None, ``{}``, ``[]``, 0), as in Prefect; a
subflow called inside a task is not in that task run. Set
``TASKBOOK__RUNTIME__TASK_RUN__<NAME>`` to override an attribute in a test.
``api_url`` and ``ui_url`` are None, as for ``runtime.flow_run``.
"""

from __future__ import annotations

from typing import Any

from kernel_ext._context import TaskRunContext, task_run_context
from kernel_ext.runtime._support import attribute

# Attributes resolved by __getattr__ on each access (so they are not module globals).
FIELDS = ("api_url", "id", "name", "parameters", "run_count", "tags", "task_name", "ui_url")
__all__ = list(FIELDS)


def __getattr__(name: str) -> Any:
    return attribute(__name__, "TASK_RUN", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)


def _context() -> TaskRunContext | None:
    return task_run_context.get()


def get_id() -> str | None:
    context = _context()
    return context.task_run.id if context is not None else None


def get_name() -> str | None:
    context = _context()
    return context.task_run.name if context is not None else None


def get_task_name() -> str | None:
    context = _context()
    return getattr(context.task, "name", None) if context is not None else None


def get_tags() -> list[str]:
    context = _context()
    return list(context.task_run.tags) if context is not None else []


def get_run_count() -> int:
    context = _context()
    return context.task_run.run_count if context is not None else 0


def get_parameters() -> dict[str, Any]:
    """The arguments of the call, by parameter name."""
    context = _context()
    return dict(context.parameters) if context is not None else {}


def get_api_url() -> str | None:
    return None


def get_ui_url() -> str | None:
    return None
