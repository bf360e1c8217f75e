"""Runs outside deployments never stay Running: a killed process's flow runs end Crashed
(with their unfinished task runs and pauses) within the scheduler's window, and SIGTERM
ends them Cancelled. Real processes, killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext._errors import InputAlreadyAnswered
from kernel_ext.testing import taskbook_test_harness

pytestmark = pytest.mark.slow

SCRIPT = """
import time
from kernel_ext import flow, task, pause_flow_run

@task
def slow():
    open({marker!r}, "w").write("started")
    time.sleep(120)

@flow
def nightly():
    {body}

nightly()
"""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    with taskbook_test_harness(store_url=f"sqlite:///{tmp_path / 'taskbook.db'}"):
        yield tmp_path


def start(home: Path, body: str) -> subprocess.Popen[str]:
    script = home / "job.py"
    script.write_text(SCRIPT.format(marker=str(home / "marker"), body=body))
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_HEARTBEAT_SECONDS": "0.2",
           "TASKBOOK_LOGGING_LEVEL": "ERROR"}  # fmt: skip
    env.pop("TASKBOOK_STORE_URL", None)
    return subprocess.Popen([sys.executable, str(script)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


def store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


def wait_until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def the_run() -> dict[str, Any]:
    (run,) = store().list_flow_runs()
    return store().read_flow_run(run["id"])  # type: ignore[no-any-return]


def test_a_killed_script_ends_crashed_with_its_task_runs(home: Path) -> None:
    from papermill_bridge._scheduler import Scheduler

    process = start(home, "slow()")
    wait_until(lambda: (home / "marker").exists())
    wait_until(lambda: the_run()["task_runs"] and the_run()["heartbeat_at"])
    time.sleep(1.5)
    scheduler = Scheduler(lost_after_seconds=1.0)
    assert scheduler.tick()["crashed"] == 0  # alive: it beats
    process.kill()
    process.communicate()
    time.sleep(1.5)
    assert scheduler.tick()["crashed"] == 1
    run = the_run()
    assert run["state"] == "Crashed"
    assert run["state_message"].startswith("Its process stopped beating")
    assert [t["state"] for t in run["task_runs"]] == ["Crashed"]
    task_history = store().read_history(run["task_runs"][0]["id"])
    assert [h["name"] for h in task_history][-1] == "Crashed"
    assert scheduler.tick()["crashed"] == 0  # once


def test_sigterm_ends_the_run_cancelled(home: Path) -> None:
    process = start(home, "slow()")
    wait_until(lambda: (home / "marker").exists())
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert "Traceback" not in output
    run = the_run()
    assert (run["state"], run["state_message"]) == ("Cancelled", "Terminated by SIGTERM.")
    assert [t["state"] for t in run["task_runs"]] == ["Cancelled"]  # not left running


def test_a_killed_pauser_ends_crashed_and_its_form_closes(home: Path) -> None:
    from kernel_ext import approvals
    from papermill_bridge._scheduler import Scheduler

    process = start(home, "pause_flow_run(wait_for_input=bool, timeout=600, key='ship')")
    (request,) = wait_until(approvals.pending)
    process.kill()
    process.communicate()
    time.sleep(1.5)
    assert Scheduler(lost_after_seconds=1.0).tick()["crashed"] == 1
    assert the_run()["state"] == "Crashed"
    assert store().read_input_request(request["id"])["status"] == "expired"
    assert approvals.pending() == []
    with pytest.raises(InputAlreadyAnswered, match="expired"):
        approvals.answer(request["flow_run_id"][:8], True)
