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

FLOWS = '''
from kernel_ext import flow, task, get_run_logger

@task
def parse(text):
    return int(text)

@flow
def ingest(text):
    get_run_logger().info("ingesting %s", text)
    get_run_logger().warning("this one is a warning")
    return parse(text)
'''


@pytest.fixture
def execute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run cells in a real kernel (which inherits a throwaway Taskbook home)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("TASKBOOK_HOME", str(tmp_path))
    monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)

    def run(*sources: str) -> Any:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
        return notebook

    return run


def streams(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream"
                   and o["name"] == name)  # fmt: skip


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


def test_a_failing_flow_in_a_script_shows_the_users_frames(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(FLOWS + "\ningest('seven')\n")
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path), "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 1
    trace = done.stderr[done.stderr.index("Traceback"):]
    frames = [line for line in trace.splitlines() if line.startswith('  File "')]
    engine = [line for line in frames if "kernel_ext" in line]
    assert len(engine) == 1 and "_flows.py" in engine[0]  # the call itself, nothing deeper
    assert [line.rsplit(" in ", 1)[1] for line in frames if "job.py" in line] == [
        "<module>", "ingest", "parse",
    ]  # fmt: skip


def test_full_tracebacks_on_request(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(FLOWS + "\ningest('seven')\n")
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path), "TASKBOOK_LOGGING_LEVEL": "ERROR",
           "TASKBOOK_FULL_TRACEBACKS": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True)  # fmt: skip
    assert done.stderr.count("_task_engine.py") >= 2
