"""What the three runtime modules share: environment overrides and store look-ups.

An attribute ``x`` of ``kernel_ext.runtime.<section>`` can be set for a test with the
environment variable ``TASKBOOK__RUNTIME__<SECTION>__X`` (Prefect's
``PREFECT__RUNTIME__...``). The string is cast to the type of the real value (an int
stays an int, "true" is a bool, an ISO time a UTC datetime); a value whose type a string
cannot stand for (a list, a dict) raises ``ValueError``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kernel_ext._context import current_flow_run, task_run_context
from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext.deployment import attached_run_id

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import FlowRunDetail, TaskRunDetail

__all__ = ["ENV_PREFIX", "attribute", "current_run_id", "stored_flow_run", "stored_task_run"]

ENV_PREFIX = "TASKBOOK__RUNTIME__"


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_CASTS: dict[type, Callable[[str], Any]] = {
    bool: lambda text: text.lower() == "true",
    int: int,
    float: float,
    str: str,
    datetime: _utc,
    type(None): str,  # an attribute that is None here (no run) is a string when set
}


def attribute(module: str, section: str, fields: Collection[str], name: str) -> Any:
    """The value of ``name`` for a runtime module's ``__getattr__``: what the module's
    ``get_<name>()`` returns (looked up on each access, so a test can monkeypatch it)."""
    key = f"{ENV_PREFIX}{section}__{name.upper()}"
    if name not in fields:
        if key in os.environ:
            return os.environ[key]
        raise AttributeError(
            f"module {module!r} has no attribute {name!r}; it offers {', '.join(sorted(fields))}"
        )
    value = getattr(sys.modules[module], f"get_{name}")()
    if key not in os.environ:
        return value
    cast = _CASTS.get(type(value))
    if cast is None:
        raise ValueError(
            f"{module}.{name} is a {type(value).__name__}, which {key} cannot stand for; "
            f"in a test, monkeypatch {module}.get_{name} instead."
        )
    return cast(os.environ[key])


def current_run_id() -> str | None:
    """The flow run the calling code belongs to, else the one a worker gave this process."""
    context = current_flow_run()
    if context is not None:
        return context.flow_run.id
    task_context = task_run_context.get()
    if task_context is not None:  # a task called outside any flow has no flow run
        return task_context.task_run.flow_run_id
    return attached_run_id()


def stored_flow_run(run_id: str) -> FlowRunDetail:
    return _flushed_store().read_flow_run(FlowRunId(run_id))


def stored_task_run(run_id: str) -> TaskRunDetail:
    return _flushed_store().read_task_run(TaskRunId(run_id))


def _flushed_store() -> Store:
    # Runs of this process reach the store through its writer: flush so they are there.
    # The store (SQLAlchemy) loads only when an attribute needs it.
    from kernel_ext.store import get_store

    store = get_store()
    store.flush()
    return store
