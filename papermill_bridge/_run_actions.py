"""An operator's actions on finished runs, shared by the CLI and the REST API."""

from __future__ import annotations

import contextlib
from pathlib import Path

from kernel_ext import _settings
from kernel_ext._run_records import FlowRunId
from kernel_ext.store import get_store
from kernel_ext.store.records import DeletedRun, FlowRunRecord

__all__ = ["delete_run", "retry_run"]


def delete_run(run_id: FlowRunId) -> DeletedRun:
    """Delete a finished run and what was recorded under it, and its output notebook (a
    file Taskbook wrote under its data directory; nothing elsewhere is touched)."""
    deleted = get_store().delete_flow_run(run_id)
    output = deleted["run"]["output_notebook"]
    if output and _is_ours(Path(output)):
        with contextlib.suppress(OSError):  # the run is gone; a file we cannot remove stays
            Path(output).unlink()
    return deleted


def retry_run(run_id: FlowRunId) -> FlowRunRecord:
    """Queue a deployment run that failed, crashed or was cancelled again, due now; a
    worker executes it with the same id, and the ``%%task`` cells that finished before
    come back from their results."""
    return get_store().retry_flow_run(run_id)


def _is_ours(path: Path) -> bool:
    outputs = (_settings.home() / "outputs").resolve()
    return path.resolve().is_relative_to(outputs)
