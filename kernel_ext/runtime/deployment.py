"""The deployment whose run this is: ``runtime.deployment.name``.

    from kernel_ext.runtime import deployment

    region = deployment.parameters.get("region", "eu")

In a notebook that a worker executes for a deployment run, ``id``, ``name`` and
``version`` come from the store (read once per run); subflows of that run see them too.
Elsewhere they are None. As in Prefect, ``flow_run_id`` is the current flow run's id and
``parameters`` the deployment run's parameters, or outside a deployment the current flow
run's (``{}`` outside any run). ``version`` is a string, as Prefect's: ``"3"``.
Set ``TASKBOOK__RUNTIME__DEPLOYMENT__<NAME>`` to override an attribute in a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_ext._context import ambient_flow_run
from kernel_ext.deployment import attached_run_id
from kernel_ext.runtime import flow_run
from kernel_ext.runtime._support import attribute, current_run_id, stored_flow_run

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunDetail

# Attributes resolved by __getattr__ on each access (so they are not module globals).
FIELDS = ("flow_run_id", "id", "name", "parameters", "version")
__all__ = list(FIELDS)

# The deployment fields of a run never change: one store read per run is enough.
_rows: dict[str, FlowRunDetail] = {}


def __getattr__(name: str) -> Any:
    return attribute(__name__, "DEPLOYMENT", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)


def _deployment_run_id() -> str | None:
    """The deployment run this process executes: the attached one, else the worker's."""
    ambient = ambient_flow_run()
    return ambient.flow_run.id if ambient is not None else attached_run_id()


def _row() -> FlowRunDetail | None:
    run_id = _deployment_run_id()
    if run_id is None:
        return None
    if run_id not in _rows:
        _rows[run_id] = stored_flow_run(run_id)
    return _rows[run_id]


def get_id() -> str | None:
    row = _row()
    return row["deployment_id"] if row is not None else None


def get_name() -> str | None:
    row = _row()
    return row["deployment_name"] if row is not None else None


def get_version() -> str | None:
    row = _row()
    version = row["deployment_version"] if row is not None else None
    return str(version) if version is not None else None


def get_flow_run_id() -> str | None:
    return current_run_id()


def get_parameters() -> dict[str, Any]:
    ambient = ambient_flow_run()
    if ambient is not None:
        return dict(ambient.flow_run.parameters)
    row = _row()
    if row is not None:
        return dict(row["parameters"] or {})
    return flow_run.get_parameters()
