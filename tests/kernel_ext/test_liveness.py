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
    env = {
        **os.environ,
        "TASKBOOK_HOME": str(home),
        "TASKBOOK_HEARTBEAT_SECONDS": "0.2",
        "TASKBOOK_LOGGING_LEVEL": "ERROR",
    }
    env.pop("TASKBOOK_STORE_URL", None)
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


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


def stored_and_beating() -> bool:
    runs = store().list_flow_runs()
    return bool(runs) and bool(the_run()["task_runs"]) and the_run()["heartbeat_at"] is not None


def test_a_killed_script_ends_crashed_with_its_task_runs(home: Path) -> None:
    from papermill_bridge import Scheduler

    process = start(home, "slow()")
    wait_until(lambda: (home / "marker").exists())
    wait_until(stored_and_beating)
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
    wait_until(stored_and_beating)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert "Traceback" not in output
    run = the_run()
    assert (run["state"], run["state_message"]) == ("Cancelled", "Terminated by SIGTERM.")
    assert [t["state"] for t in run["task_runs"]] == ["Cancelled"]  # not left running


def test_a_killed_pauser_ends_crashed_and_its_form_closes(home: Path) -> None:
    from kernel_ext import approvals
    from papermill_bridge import Scheduler

    scheduler = Scheduler(lost_after_seconds=1.0)
    assert scheduler.tick()["crashed"] == 0  # reaching the store from now on
    process = start(home, "pause_flow_run(wait_for_input=bool, timeout=600, key='ship')")
    (request,) = wait_until(approvals.pending)
    process.kill()
    process.communicate()
    time.sleep(1.5)
    assert scheduler.tick()["crashed"] == 1
    assert the_run()["state"] == "Crashed"
    assert store().read_input_request(request["id"])["status"] == "expired"
    assert approvals.pending() == []
    with pytest.raises(InputAlreadyAnswered, match="expired"):
        approvals.answer(request["flow_run_id"][:8], True)


def test_a_new_scheduler_waits_a_window_before_judging(home: Path) -> None:
    """After an outage (or at its start) a scheduler lets live processes beat first."""
    from papermill_bridge import Scheduler

    process = start(home, "slow()")
    wait_until(lambda: (home / "marker").exists())
    wait_until(stored_and_beating)
    process.kill()
    process.communicate()
    time.sleep(1.5)  # the run is silent for longer than the window already
    scheduler = Scheduler(lost_after_seconds=1.0)
    assert scheduler.tick()["crashed"] == 0
    time.sleep(1.1)
    assert scheduler.tick()["crashed"] == 1


def test_sigterm_with_submitted_task_runs_exits_at_once(home: Path) -> None:
    script = home / "job.py"
    script.write_text(
        SCRIPT.replace(
            "@flow\ndef nightly():\n    {body}", "@flow\ndef nightly():\n    slow.submit().wait()"
        ).format(marker=str(home / "marker"))
    )
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    env.pop("TASKBOOK_STORE_URL", None)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: (home / "marker").exists())
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert time.monotonic() - signalled < 10  # not after the task's 120 s sleep
    run = the_run()
    assert run["state"] == "Cancelled"
    assert [t["state"] for t in run["task_runs"]] == ["Cancelled"]


def test_a_handler_of_the_programs_own_is_kept(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_ext import flow
    from kernel_ext._liveness import SigtermGuard

    monkeypatch.setattr(SigtermGuard, "_ours", None)

    def mine(*_args: Any) -> None:
        pass

    @flow
    def installs_its_own() -> None:
        signal.signal(signal.SIGTERM, mine)

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        installs_its_own()
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_lets_the_programs_cleanup_run(home: Path) -> None:
    script = home / "job.py"
    body = SCRIPT.format(marker=str(home / "marker"), body="slow()")
    script.write_text(
        body.replace(
            "nightly()\n",
            "try:\n    nightly()\nfinally:\n    print('program cleanup', flush=True)\n",
        )
    )
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    env.pop("TASKBOOK_STORE_URL", None)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: (home / "marker").exists())
    wait_until(stored_and_beating)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143, output
    assert "program cleanup" in output


def test_outside_flows_sigterm_is_the_default_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kernel_ext import flow
    from kernel_ext._liveness import SigtermGuard

    monkeypatch.setattr(SigtermGuard, "_ours", None)  # decided anew in this test

    @flow
    def quick() -> None:
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # ours, meanwhile

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        quick()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)
