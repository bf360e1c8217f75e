"""Executing one deployment run: its notebook snapshot through papermill, headless.

The snapshot gets a first cell that attaches the kernel to the run (so ``%%task`` cells,
tasks and flows inside land under it), papermill injects the run's parameters after the
``parameters`` cell, and the output notebook is written under the data directory and
linked from the run. This runs in a child process of the worker (see ``_worker``), so
cancelling a run or losing a kernel never takes the worker down.

    python -m papermill_bridge._execute RUN_ID
    python -m papermill_bridge._execute      # warm: reads RUN_ID from stdin when it comes
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from kernel_ext import _settings

__all__ = ["execute_run", "output_path"]

ATTACH_SOURCE = (
    "# Injected by Taskbook: this kernel executes a deployment run.\n"
    "import kernel_ext.deployment\n"
    "kernel_ext.deployment.attach()"
)


def output_path(deployment: str, run_id: str) -> Path:
    folder = _settings.home() / "outputs" / deployment
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.ipynb"


def _with_attach_cell(notebook: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(notebook)
    cell: dict[str, Any] = {
        "cell_type": "code", "execution_count": None, "id": "taskbook-attach",
        "metadata": {"tags": ["injected-taskbook"]}, "outputs": [], "source": ATTACH_SOURCE,
    }  # fmt: skip
    content["cells"] = [cell, *content.get("cells", [])]
    return content


def execute_run(run_id: str) -> dict[str, Any]:
    """Execute flow run ``run_id``; returns {"state", "message", "output"}. Never raises for
    a failing notebook: a failure is data (cell, exception name and value)."""
    import papermill

    from kernel_ext.store import get_store

    store = get_store()
    run = store.read_flow_run(run_id)
    version = store.read_deployment_version(run["deployment_name"], run["deployment_version"])
    output = output_path(run["deployment_name"], run_id)
    store.set_output_notebook(run_id, str(output))
    with tempfile.TemporaryDirectory(prefix="taskbook-run-") as tmp:
        source = Path(tmp) / "input.ipynb"
        source.write_text(json.dumps(_with_attach_cell(version["notebook"])))
        os.environ["TASKBOOK_FLOW_RUN_ID"] = run_id
        try:
            papermill.execute_notebook(
                str(source), str(output), parameters=run.get("parameters") or {},
                kernel_name="python3", progress_bar=False, log_output=False,
                cwd=str(Path(version["notebook_path"]).parent)
                if Path(version["notebook_path"]).parent.is_dir() else tmp,
            )  # fmt: skip
        except papermill.PapermillExecutionError as error:
            message = f"Cell {error.cell_index} raised {error.ename}: {error.evalue}"
            return {"state": "Failed", "message": message, "output": str(output),
                    "details": {"cell_index": error.cell_index, "exception_type": error.ename,
                                "traceback": "\n".join(error.traceback)}}  # fmt: skip
    return {"state": "Completed", "message": None, "output": str(output), "details": None}


def _warm_then_read_run_id() -> str:
    """Load the heavy modules first, then wait for the run id: a worker keeps one such
    process ready, so a claimed run starts without paying for Python's start-up."""
    import papermill  # noqa: F401

    from kernel_ext.store import get_store

    get_store()
    return sys.stdin.readline().strip()


if __name__ == "__main__":
    run_id = sys.argv[1] if len(sys.argv) > 1 else _warm_then_read_run_id()
    if run_id:
        print(json.dumps(execute_run(run_id)))
