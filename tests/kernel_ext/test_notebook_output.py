"""What a flow prints in a real notebook: logs that read as logs, and a failure that
shows the user's frames, not the engine's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.slow

FLOWS = """
from kernel_ext import flow, task, get_run_logger

@task
def parse(text):
    return int(text)

@flow
def ingest(text):
    get_run_logger().info("ingesting %s", text)
    get_run_logger().warning("this one is a warning")
    return parse(text)
"""


@pytest.fixture
def execute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run cells in a real kernel (which inherits a throwaway Taskbook home)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("TASKBOOK_HOME", str(tmp_path))
    monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)

    def run(*sources: str) -> Any:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
        return notebook

    return run


def streams(cell: Any, name: str) -> str:
    return "".join(
        o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == name
    )


def test_info_logs_go_to_stdout_warnings_to_stderr(execute: Any) -> None:
    notebook = execute(FLOWS, "ingest('7')")
    cell = notebook.cells[1]
    out, err = streams(cell, "stdout"), streams(cell, "stderr")
    assert "| INFO    | Flow run" in out and "ingesting 7" in out
    assert "Finished in state Completed()" in out
    assert "INFO" not in err
    assert "this one is a warning" in err


def test_a_failing_flow_shows_the_users_frames(execute: Any) -> None:
    notebook = execute(FLOWS, "ingest('seven')")
    (error,) = [o for o in notebook.cells[1].outputs if o["output_type"] == "error"]
    assert error["ename"] == "ValueError"
    text = "\n".join(error["traceback"])
    assert "kernel_ext" not in text  # not one engine frame
    assert "ingest(text)" in text and "parse(text)" in text and "int(text)" in text
    assert len(error["traceback"]) < 12, text


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "job.py"
    script.write_text(FLOWS + "\ningest('seven')\n")
    environment = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path / "home"),
        "TASKBOOK_LOGGING_LEVEL": "ERROR",
        **env,
    }
    environment.pop("TASKBOOK_STORE_URL", None)
    return subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=120
    )


def user_frames(stderr: str) -> list[str]:
    trace = stderr[stderr.index("Traceback") :]
    return [line for line in trace.splitlines() if line.startswith('  File "')]


@pytest.mark.parametrize("through_a_symlink", [False, True])
def test_a_failing_flow_in_a_script_shows_the_users_frames(
    tmp_path: Path, through_a_symlink: bool
) -> None:
    env = {}
    if through_a_symlink:  # an install reached by another path than its real one
        (tmp_path / "link").symlink_to(Path(__file__).parents[2])
        env["PYTHONPATH"] = str(tmp_path / "link")
    done = run_script(tmp_path, **env)
    assert done.returncode == 1
    frames = user_frames(done.stderr)
    assert not [line for line in frames if "kernel_ext" in line], done.stderr
    assert [line.rsplit(" in ", 1)[1] for line in frames] == ["<module>", "ingest", "parse"]


def test_the_stored_traceback_shows_the_users_frames(tmp_path: Path) -> None:
    from kernel_ext.testing import taskbook_test_harness

    run_script(tmp_path)
    with taskbook_test_harness(store_url=f"sqlite:///{tmp_path / 'home' / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        store = get_store()
        (run,) = store.list_flow_runs()
        failure = store.read_flow_run(run["id"])["failure"]
    assert failure["exception_type"] == "ValueError"
    assert "kernel_ext" not in failure["traceback"]
    assert "return int(text)" in failure["traceback"]


def test_full_tracebacks_on_request(tmp_path: Path) -> None:
    done = run_script(tmp_path, TASKBOOK_FULL_TRACEBACKS="1")
    assert done.stderr.count("kernel_ext/engine/") >= 2
    assert "kernel_ext/engine/" not in run_script(tmp_path, TASKBOOK_FULL_TRACEBACKS="0").stderr
