"""The example notebooks, executed in a real kernel (nbclient and papermill).

They are documentation that cannot rot: every cell must run, and what the store records
is checked afterwards from this process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernel_ext.testing import taskbook_test_harness

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel inherits this environment: a throwaway Taskbook home."""
    monkeypatch.setenv("TASKBOOK_HOME", str(tmp_path))
    monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
    monkeypatch.delenv("TASKBOOK_RESULTS_URL", raising=False)
    return tmp_path


def execute(path: Path, cwd: Path) -> Any:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return notebook


def outputs_text(notebook: Any) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def read_store(home: Path) -> Any:
    with taskbook_test_harness(store_url=f"sqlite:///{home / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        store = get_store()
        return [store.read_flow_run(r["id"]) for r in store.list_flow_runs(limit=10)]


def test_cells_as_tasks_notebook(kernel_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOOK_NOTEBOOK_PATH", "notebooks/cells_as_tasks.ipynb")
    notebook = execute(NOTEBOOKS / "cells_as_tasks.ipynb", kernel_env)
    text = outputs_text(notebook)
    assert "fetched 24 readings from station-7" in text
    assert "Re-running summarize" in text
    (session,) = read_store(kernel_env)
    assert session["flow_name"] == "cells_as_tasks"
    assert session["state"] == "Completed"  # the kernel shut down: the session ended
    runs = {t["name"]: t for t in session["task_runs"]}
    assert runs["fetch-0"]["run_count"] == 2 and runs["fetch-0"]["state"] == "Completed"
    assert runs["clean-0"]["upstream"] == [runs["fetch-0"]["id"]]
    assert runs["summarize-1"]["upstream"] == [runs["clean-1"]["id"]]


def test_cells_as_tasks_cache_survives_a_kernel_restart(kernel_env: Path) -> None:
    execute(NOTEBOOKS / "cells_as_tasks.ipynb", kernel_env)
    notebook = execute(NOTEBOOKS / "cells_as_tasks.ipynb", kernel_env)  # a new kernel
    assert "restored" in outputs_text(notebook)
    second = read_store(kernel_env)[0]
    fetch = next(t for t in second["task_runs"] if t["name"] == "fetch-0")
    assert fetch["state"] == "Cached"


def test_papermill_injects_parameters_and_runs_headless(kernel_env: Path) -> None:
    import papermill

    output = kernel_env / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "cells_as_tasks.ipynb"),
        str(output),
        parameters={"readings": 5, "source": "station-9"},
        kernel_name="python3",
        cwd=str(kernel_env),
        progress_bar=False,
    )
    text = outputs_text(nbformat.read(output, as_version=4))
    assert "fetched 5 readings from station-9" in text


def test_flows_and_tasks_notebook(kernel_env: Path) -> None:
    notebook = execute(NOTEBOOKS / "flows_and_tasks.ipynb", kernel_env)
    text = outputs_text(notebook)
    assert "135" in text and "invalid parameters" in text
    # The call with invalid parameters made a Failed run, as in Prefect.
    invalid, run = read_store(kernel_env)
    assert invalid["state"] == "Failed" and invalid["parameters"] == {"n": "ten", "factor": 3}
    assert run["flow_name"] == "pipeline" and run["state"] == "Completed"
    assert len(run["task_runs"]) == 12


def test_approval_notebook_answered_from_the_cli(kernel_env: Path) -> None:
    """A flow pauses in a real kernel; a terminal answers; the cell gets the typed input."""
    import subprocess
    import sys
    import threading

    taskbook = str(Path(sys.executable).with_name("taskbook"))
    answered: dict[str, Any] = {}

    def answer_from_a_terminal() -> None:
        run_id = wait_for_approval(taskbook)["flow_run_id"]
        answer = '{"approved": true, "feedback": "ship it", "tone": "casual"}'
        done = subprocess.run(
            [taskbook, "runs", "resume", run_id[:8], "--input", answer],
            capture_output=True,
            text=True,
        )
        answered["out"] = done.stdout + done.stderr

    thread = threading.Thread(target=answer_from_a_terminal, daemon=True)
    thread.start()
    notebook = execute(NOTEBOOKS / "approval.ipynb", kernel_env)
    thread.join(timeout=5)
    assert "Resumed" in answered["out"]
    text = outputs_text(notebook)
    assert "Reviewed: approved=True, tone=casual" in text
    assert "'feedback': 'ship it'" in text
    (run,) = read_store(kernel_env)
    assert run["flow_name"] == "summarize" and run["state"] == "Completed"


def test_quickstart_notebook(kernel_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook the README's run command opens: cells, a flow, an approval, a promotion."""
    import subprocess
    import sys
    import threading

    monkeypatch.setenv("TASKBOOK_NOTEBOOK_PATH", str(NOTEBOOKS / "quickstart.ipynb"))
    taskbook = str(Path(sys.executable).with_name("taskbook"))

    def approve() -> None:
        run_id = wait_for_approval(taskbook)["flow_run_id"]
        subprocess.run(
            [taskbook, "runs", "resume", run_id, "--input", '{"approved": true}'],
            capture_output=True,
        )

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    notebook = execute(NOTEBOOKS / "quickstart.ipynb", kernel_env)
    thread.join(timeout=5)
    text = outputs_text(notebook)
    assert "fetched 12 readings from station-7" in text
    assert "published" in text
    assert "Deployment quickstart is at version 1" in text
    run_quickstart_deployment(kernel_env, taskbook)


def test_quickstart_notebook_under_papermill_as_a_user_runs_it(kernel_env: Path) -> None:
    """Headless with papermill, nothing set: the kernel is not told its notebook's path,
    so the promotion says it is skipped and the rest runs; the approval is answered from
    a terminal."""
    import json
    import subprocess
    import sys
    import threading

    import papermill

    taskbook = str(Path(sys.executable).with_name("taskbook"))

    def approve() -> None:
        run_id = wait_for_approval(taskbook)["flow_run_id"]
        subprocess.run(
            [taskbook, "runs", "resume", run_id[:8], "--input", '{"approved": true}'],
            capture_output=True,
        )

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    output = kernel_env / "quickstart-out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "quickstart.ipynb"),
        str(output),
        cwd=str(kernel_env),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=120,
    )
    thread.join(timeout=5)
    text = outputs_text(nbformat.read(output, as_version=4))
    assert "published" in text
    assert "%promote skipped: this kernel was not told which notebook it runs" in text
    runs = read_store(kernel_env)
    assert runs and {r["state"] for r in runs} == {"Completed"}
    listed = subprocess.run([taskbook, "deployments", "ls", "--json"], capture_output=True)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []  # nothing promoted


def run_quickstart_deployment(home: Path, taskbook: str) -> None:
    """What the notebook promoted runs headless as a user would run it: `taskbook serve`,
    `taskbook run quickstart --wait`, its approval answered from another terminal."""
    import json
    import subprocess

    serve = subprocess.Popen(
        [taskbook, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        waiting = subprocess.Popen(
            [taskbook, "run", "quickstart", "--wait"],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        request = wait_for_approval(taskbook)
        answered = subprocess.run(
            [
                taskbook,
                "runs",
                "resume",
                request["flow_run_id"][:8],
                "--input",
                '{"approved": true}',
            ],
            capture_output=True,
            text=True,
        )
        assert answered.returncode == 0, answered.stderr
        out, _ = waiting.communicate(timeout=180)
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    assert waiting.returncode == 0, out
    assert "Suspended: Suspended at 'publish'" in out
    assert """waiting for an answer: taskbook runs resume""" in out
    assert """--input '{"approved": true, "note": ""}'""" in out
    assert "ended Completed." in out
    command = [taskbook, "runs", "show", request["flow_run_id"], "--json"]
    shown = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    assert shown["state"] == "Completed" and shown["parameters"]["readings"] == 24
    output = nbformat.read(shown["output_notebook"], as_version=4)
    promote = next(c for c in output.cells if c.source.startswith("%promote"))
    # One line on stdout (the kernel may send it in two stream messages: the text and
    # its newline).
    assert {o["output_type"] for o in promote.outputs} == {"stream"}
    note = "".join(o["text"] for o in promote.outputs)
    assert note.startswith("[taskbook] %promote skipped: this notebook executes as deployment run")
    assert note.count("\n") == 1
    assert "published" in outputs_text(output)


def wait_for_approval(taskbook: str) -> Any:
    import json
    import subprocess
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = subprocess.run(
            [taskbook, "approvals", "ls", "--json"], capture_output=True, text=True
        )
        pending = json.loads(listed.stdout or "[]")
        if pending:
            return pending[0]
        time.sleep(0.5)
    raise AssertionError("the deployment run never asked for its approval")


def test_scale_out_notebook(kernel_env: Path) -> None:
    notebook = execute(NOTEBOOKS / "scale_out.ipynb", kernel_env)
    assert "Traceback" not in outputs_text(notebook)
    (run,) = read_store(kernel_env)
    assert (run["flow_name"], run["state"]) == ("survey", "Completed")
    names = sorted(t["name"] for t in run["task_runs"])
    assert names == sorted([f"geocode-{i}" for i in range(8)] + [f"score-{i}" for i in range(8)])
    assert {t["state"] for t in run["task_runs"]} == {"Completed"}
    # The geocoder's limit of 2 held: never three of its runs at once.
    spans = [(t["start_time"], t["end_time"]) for t in run["task_runs"] if t["name"][:3] == "geo"]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2


@pytest.mark.parametrize("name", ["flows_and_tasks", "cells_as_tasks"])
def test_example_notebook_runs_as_a_deployment(kernel_env: Path, name: str) -> None:
    """Each example also runs headless, as a user promotes it: `taskbook deploy`,
    `taskbook serve`, `taskbook run NAME --wait` ends Completed."""
    import subprocess
    import sys

    taskbook = str(Path(sys.executable).with_name("taskbook"))
    deploy = [taskbook, "deploy", str(NOTEBOOKS / f"{name}.ipynb"), "--name", name]
    deployed = subprocess.run(deploy, capture_output=True, text=True, cwd=kernel_env)
    assert deployed.returncode == 0, deployed.stderr
    serve = subprocess.Popen(
        [taskbook, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=kernel_env
    )
    try:
        waited = subprocess.run(
            [taskbook, "run", name, "--wait"],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=kernel_env,
        )
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    assert waited.returncode == 0 and "ended Completed." in waited.stdout, (
        waited.stdout + waited.stderr
    )


def test_the_python_flow_example_deploys_and_runs(kernel_env: Path) -> None:
    """notebooks/etl_flow.py as its docstring says: deployed with the CLI, run by a worker."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "papermill_bridge.cli", "deploy"]
    entrypoint = f"{NOTEBOOKS / 'etl_flow.py'}:daily_sales"
    deployed = subprocess.run(
        [*command, entrypoint, "--name", "sales", "--interval", "1h", "-p", "region=eu"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr
    with taskbook_test_harness(store_url=f"sqlite:///{kernel_env / 'taskbook.db'}"):
        from kernel_ext.store import get_store
        from papermill_bridge import Worker, start_run

        run = start_run("sales", {"days": "3"})
        assert Worker().run_once()
        store = get_store()
        final = store.read_flow_run(run["id"])
        assert final["state"] == "Completed", final
        artifacts = {a["key"]: a for a in store.list_run_artifacts(run["id"])}
        assert [r["day"] for r in artifacts["sales-eu"]["data"]] == [1, 2, 3]
        assert "over 3 days" in artifacts["sales-eu-summary"]["data"]
