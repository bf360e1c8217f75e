"""Deployments: promote notebooks, schedules, workers, and the `taskbook` CLI.

The public API, used by the CLI, the Jupyter server extension, the benchmarks and the
tests alike (nothing outside this package imports its private modules):

    from papermill_bridge import promote, start_run, wait_for, Worker, Scheduler

    promote("report.ipynb", "nightly", schedules=[{"cron": "0 6 * * *"}])
    promote_flow("flows/etl.py:daily", "etl")          # a Python flow, the same way
    run = start_run("nightly", {"region": "eu"})       # Scheduled, due now
    Worker().run_once()                                # claim it and execute it
    final = wait_for(run["id"], on_change=print)       # the run once it is final

``promote`` returns the deployment record and ``start_run``/``wait_for`` the flow run
record, typed in ``kernel_ext.store.records``. A worker executes each run in a child
process and gets back a ``RunOutcome`` (the final ``State`` and the output notebook).
Importing this package is light: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from papermill_bridge._backfill import backfill
    from papermill_bridge._deployment_actions import delete_deployment, set_schedules
    from papermill_bridge._lab_links import run_link
    from papermill_bridge._outcome import OutcomeFormatError, RunOutcome
    from papermill_bridge._parameters import (
        Parameter,
        coerce_parameters,
        describe,
        read_parameters,
    )
    from papermill_bridge._promote import promote, promote_flow
    from papermill_bridge._run_actions import delete_run, retry_run
    from papermill_bridge._scheduler import LATE_AFTER_SECONDS, Scheduler
    from papermill_bridge._serve import ServedFlow, deploy_flow, serve_flow
    from papermill_bridge._start_run import start_run, wait_for
    from papermill_bridge._versions import version_changes, version_diff, version_summaries
    from papermill_bridge._worker import HEARTBEAT_SECONDS, Worker

__all__ = [
    "HEARTBEAT_SECONDS",
    "LATE_AFTER_SECONDS",
    "OutcomeFormatError",
    "Parameter",
    "RunOutcome",
    "Scheduler",
    "ServedFlow",
    "Worker",
    "backfill",
    "coerce_parameters",
    "delete_deployment",
    "delete_run",
    "deploy_flow",
    "describe",
    "promote",
    "promote_flow",
    "read_parameters",
    "retry_run",
    "run_link",
    "serve_flow",
    "set_schedules",
    "start_run",
    "version_changes",
    "version_diff",
    "version_summaries",
    "wait_for",
]

# Each public name and the module that defines it.
_HOMES = {
    "backfill": "_backfill",
    "delete_deployment": "_deployment_actions",
    "set_schedules": "_deployment_actions",
    "run_link": "_lab_links",
    "OutcomeFormatError": "_outcome",
    "RunOutcome": "_outcome",
    "Parameter": "_parameters",
    "coerce_parameters": "_parameters",
    "describe": "_parameters",
    "read_parameters": "_parameters",
    "promote": "_promote",
    "promote_flow": "_promote",
    "ServedFlow": "_serve",
    "deploy_flow": "_serve",
    "serve_flow": "_serve",
    "delete_run": "_run_actions",
    "retry_run": "_run_actions",
    "LATE_AFTER_SECONDS": "_scheduler",
    "Scheduler": "_scheduler",
    "start_run": "_start_run",
    "wait_for": "_start_run",
    "version_changes": "_versions",
    "version_summaries": "_versions",
    "version_diff": "_versions",
    "HEARTBEAT_SECONDS": "_worker",
    "Worker": "_worker",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
