"""A failed deployment run tells the user which of their cells failed, how, and where to
look, everywhere it is shown; a suspended one says how to answer it. Runs execute for
real: a worker, papermill and a real kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]

pytestmark = pytest.mark.slow

FAILING = "values = [1, 2]\nraise ValueError(f'bad data: {values}')"


def taskbook(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    script = Path(sys.executable).with_name("taskbook")
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )


def failed_run(home: Path) -> dict[str, Any]:
    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home, extra=FAILING), "greet")
    run = start_run("greet")
    assert Worker().run_once()
    return store().read_flow_run(run["id"])  # type: ignore[no-any-return]


def test_the_failure_names_the_users_cell_exception_and_traceback(home: Path) -> None:
    run = failed_run(home)
    # The notebook's fifth cell, as the user counts (the attach and parameter cells that
    # the run adds are not counted).
    assert run["state"] == "Failed"
    assert run["state_message"] == (
        "Cell 5 (`values = [1, 2]`) raised ValueError: bad data: [1, 2]"
    )
    failure = run["failure"]
    assert failure["cell_number"] == 5
    assert failure["exception_type"] == "ValueError"
    assert failure["exception_message"] == "bad data: [1, 2]"
    assert "raise ValueError(f'bad data: {values}')" in failure["traceback"]
    assert "\x1b[" not in failure["traceback"]  # no colour codes
    assert failure["output_notebook"] == run["output_notebook"]


def test_the_cli_shows_the_failure(home: Path) -> None:
    run = failed_run(home)
    shown = taskbook(home, "runs", "show", run["id"][:8])
    assert shown.returncode == 0, shown.stderr
    assert "message:    Cell 5 (`values = [1, 2]`) raised ValueError" in shown.stdout
    assert "cell:       5  values = [1, 2]" in shown.stdout
    assert "Traceback:" in shown.stdout and "bad data" in shown.stdout
    assert f"output:     {run['output_notebook']}" in shown.stdout

    logs = taskbook(home, "runs", "logs", run["id"][:8])
    assert logs.returncode == 0, logs.stderr
    assert "| ERROR   | Cell 5 (`values = [1, 2]`) raised ValueError: bad data" in logs.stdout
    assert "raise ValueError(f'bad data: {values}')" in logs.stdout
    assert f"Output notebook: {run['output_notebook']}" in logs.stdout


def test_run_wait_reports_the_id_states_failure_and_output(home: Path) -> None:
    from papermill_bridge import promote

    promote(write_notebook(home, extra=FAILING), "greet")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("taskbook")), "worker"],
        env={**os.environ, "TASKBOOK_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = taskbook(home, "run", "greet", "--wait")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert done.returncode == 1
    (run,) = store().list_flow_runs()
    out = done.stdout
    assert f"Created run {run['id']} ({run['name']}); waiting for a worker." in out
    assert "Running: Executing on" in out
    assert "Failed: Cell 5 (`values = [1, 2]`) raised ValueError: bad data: [1, 2]" in out
    assert f"Run {run['id'][:8]} ({run['name']}) ended Failed." in out
    assert f"output:     {run['output_notebook']}" in out
    assert "Traceback:" in out
    assert f"Logs: taskbook runs logs {run['id'][:8]}" in out


def test_the_run_record_fits_the_documented_schema(home: Path) -> None:
    """GET runs/{id} answers this record as it is."""
    import jsonschema

    run = failed_run(home)
    document = json.loads(
        (Path(__file__).parents[2] / "papermill_bridge/server/openapi.json").read_text()
    )
    schema = {**document, "$ref": "#/components/schemas/RunWithTaskRuns"}
    jsonschema.validate(json.loads(json.dumps(run, default=str)), schema)
    assert run["failure"]["cell_number"] == 5


def test_injected_cells_are_tagged_and_print_nothing(home: Path) -> None:
    run = failed_run(home)
    output = nbformat.read(run["output_notebook"], as_version=4)
    injected = [c for c in output.cells if "injected-taskbook" in c.metadata.get("tags", [])]
    (attach,) = injected
    assert attach.outputs == []
    assert attach.metadata["jupyter"]["source_hidden"] is True


def test_a_usage_error_reported_on_stderr_keeps_its_message(home: Path) -> None:
    """IPython shows a magic's UsageError on stderr, with no error output: the message
    must still reach the run, not an empty ``CellExecutionError: ``."""
    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home, extra="%%task bad --retries many\nx = 1"), "greet")
    run = start_run("greet")
    Worker().run_once()
    finished = store().read_flow_run(run["id"])
    assert finished["state"] == "Failed"
    assert finished["state_message"].startswith(
        "Cell 5 (`%%task bad --retries many`) raised UsageError: "
    )
    assert "retries" in finished["failure"]["exception_message"]


def test_a_notebook_without_kernelspec_deploys_and_runs(home: Path) -> None:
    from papermill_bridge import Worker, promote, start_run

    path = write_notebook(home)
    notebook = json.loads(path.read_text())
    notebook["metadata"] = {}
    path.write_text(json.dumps(notebook))
    deployed = taskbook(home, "deploy", str(path), "--name", "bare")
    assert deployed.returncode == 0, deployed.stderr
    assert [p["name"] for p in promote(path, "bare")["versions"][0]["parameters"]] == [
        "greeting",
        "repeat",
    ]
    run = start_run("bare")
    assert Worker().run_once()
    assert store().read_flow_run(run["id"])["state"] == "Completed"


def test_a_notebook_of_another_language_is_refused(home: Path) -> None:
    path = write_notebook(home)
    notebook = json.loads(path.read_text())
    notebook["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    path.write_text(json.dumps(notebook))
    done = taskbook(home, "deploy", str(path), "--name", "r")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: greet.ipynb is a R notebook; Taskbook deploys Python notebooks (kernel python3)."
    )
    assert store().list_deployments() == []
