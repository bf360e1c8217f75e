"""The current flow run's attributes, read when asked: ``runtime.flow_run.id``.

    from kernel_ext.runtime import flow_run

    print(f"{flow_run.flow_name}/{flow_run.name} attempt {flow_run.run_count}")

Inside a task the flow run is the task's; outside any run each attribute is empty (None,
``{}``, ``[]``, 0; ``scheduled_start_time`` is now), as in Prefect. A process that a worker
started for a deployment run (``TASKBOOK_FLOW_RUN_ID``) reads that run from the store.
Set ``TASKBOOK__RUNTIME__FLOW_RUN__<NAME>`` to override an attribute in a test.

``api_url`` and ``ui_url`` are None: Taskbook has no setting that says where a server
showing the run is reachable. ``job_variables`` is ``{}`` in a run: workers run notebooks
with parameters only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kernel_ext._context import FlowRunContext, ambient_flow_run, current_flow_run
from kernel_ext.runtime._support import (
    attribute,
    current_run_id,
    stored_flow_run,
    stored_task_run,
)

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunDetail

# Attributes resolved by __getattr__ on each access (so they are not module globals).
FIELDS = (
    "api_url",
    "flow_name",
    "flow_version",
    "id",
    "job_variables",
    "name",
    "parameters",
    "parent_deployment_id",
    "parent_flow_run_id",
    "root_flow_run_id",
    "run_count",
    "scheduled_start_time",
    "tags",
    "ui_url",
)
__all__ = list(FIELDS)


def __getattr__(name: str) -> Any:
    return attribute(__name__, "FLOW_RUN", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)


def _context() -> FlowRunContext | None:
    return current_flow_run()


def _stored() -> FlowRunDetail | None:
    """The run as the store has it, for a process with a run id but no run context."""
    run_id = current_run_id()
    return stored_flow_run(run_id) if run_id is not None else None


def get_id() -> str | None:
    return current_run_id()


def get_name() -> str | None:
    if (context := _context()) is not None:
        return context.flow_run.name
    return row["name"] if (row := _stored()) is not None else None


def get_flow_name() -> str | None:
    if (context := _context()) is not None:
        return context.flow_run.flow_name
    return row["flow_name"] if (row := _stored()) is not None else None


def get_flow_version() -> str | None:
    """The flow's ``version`` (by default a hash of its source file, as in Prefect)."""
    context = _context()
    version = getattr(context.flow, "version", None) if context is not None else None
    return version if isinstance(version, str) else None


def get_parameters() -> dict[str, Any]:
    if (context := _context()) is not None:
        # The values as passed; a deployment run's context has only the stored ones.
        return dict(context.parameters or context.flow_run.parameters)
    return dict(row["parameters"] or {}) if (row := _stored()) is not None else {}


def get_tags() -> list[str]:
    if (context := _context()) is not None:
        return list(context.flow_run.tags)
    return list(row["tags"]) if (row := _stored()) is not None else []


def get_run_count() -> int:
    if (context := _context()) is not None:
        return context.flow_run.run_count
    return int(row["run_count"] or 0) if (row := _stored()) is not None else 0


def get_scheduled_start_time() -> datetime:
    """When the run was due: a deployment run's slot, else when the run was created."""
    context = _context()
    if context is not None and context is not ambient_flow_run():
        return datetime.fromtimestamp(context.flow_run.created, UTC)
    row = _stored()
    when = row and (row["scheduled_time"] or row["created"])
    return datetime.fromisoformat(when) if when else datetime.now(UTC)


def _parent_task_run_id(run_id: str) -> str | None:
    context = _context()
    if context is not None and context.flow_run.id == run_id:
        return context.flow_run.parent_task_run_id
    return stored_flow_run(run_id)["parent_task_run_id"]


def _parent_of(run_id: str) -> str | None:
    """The flow run that called flow run ``run_id`` as a subflow, if any."""
    parent_task_run_id = _parent_task_run_id(run_id)
    if parent_task_run_id is None:
        return None
    return stored_task_run(parent_task_run_id)["flow_run_id"]


def get_parent_flow_run_id() -> str | None:
    run_id = current_run_id()
    return _parent_of(run_id) if run_id is not None else None


def get_parent_deployment_id() -> str | None:
    parent = get_parent_flow_run_id()
    return stored_flow_run(parent)["deployment_id"] if parent is not None else None


def get_root_flow_run_id() -> str | None:
    run_id = current_run_id()
    while run_id is not None and (parent := _parent_of(run_id)) is not None:
        run_id = parent
    return run_id


def get_job_variables() -> dict[str, Any] | None:
    return {} if _context() is not None else None


def get_api_url() -> str | None:
    return None


def get_ui_url() -> str | None:
    return None
