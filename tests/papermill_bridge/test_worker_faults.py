"""A worker killed with SIGKILL (only the worker, not its process group) takes its
executor and kernel with it: nothing of the attempt goes on running unsupervised while
the scheduler queues the retry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel_ext._states import State, StateType
from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]

LINUX = sys.platform.startswith("linux")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not LINUX, reason="Linux only")]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def with_run_id(run_id: str) -> list[int]:
    """Processes started with the run's id in their environment: its kernel."""
    found = []
    needle = f"TASKBOOK_FLOW_RUN_ID={run_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_worker_takes_its_executor_and_kernel_along(home: Path) -> None:
    from papermill_bridge import promote, start_run

    marker = home / "body.txt"
    body = (
        f"open({str(marker)!r}, 'a').write('started\\n')\n"
        "import time\ntime.sleep(60)\n"
        f"open({str(marker)!r}, 'a').write('finished\\n')"
    )
    promote(write_notebook(home, extra=body), "greet", retries=1)
    run = start_run("greet")
    taskbook = str(Path(sys.executable).with_name("taskbook"))
    worker = subprocess.Popen(
        [taskbook, "worker", "--poll", "0.2", "--heartbeat", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.read_text() == "started\n"
    executors = children(worker.pid)
    kernels = with_run_id(run["id"])
    assert executors and kernels
    os.kill(worker.pid, signal.SIGKILL)  # the worker only
    worker.wait()
    deadline = time.monotonic() + 15
    while any(alive(p) for p in executors + kernels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in executors + kernels if alive(p)], "the attempt outlived its worker"
    time.sleep(1)
    assert marker.read_text() == "started\n"  # the body never finished unsupervised
    assert store().read_flow_run(run["id"])["state"] == "Running"  # until the reaper comes


@pytest.mark.parametrize("ends", ["crashed", "awaiting retry", "retried", "claimed again"])
def test_an_attempt_that_is_over_in_the_store_stops_its_kernel(home: Path, ends: str) -> None:
    """The fence: a kernel attached to a run stops once the store says its attempt is over
    (the run ended, or a newer attempt started), whatever happened to its supervisors."""
    from papermill_bridge import promote, start_run

    promote(write_notebook(home), "greet", retries=1)
    run = start_run("greet")
    store().claim_next_run("w1", time.time())
    store().set_run_state(run["id"], State(StateType.RUNNING, "Running"))  # attempt 1
    code = (
        "import time, kernel_ext.deployment as d\n"
        "d.attach()\nprint('attached', flush=True)\ntime.sleep(60)"
    )
    env = {**os.environ, "TASKBOOK_FLOW_RUN_ID": run["id"], "TASKBOOK_FENCE_SECONDS": "0.2"}
    kernel = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert kernel.stdout is not None and kernel.stdout.readline() == "attached\n"
    time.sleep(0.6)
    assert kernel.poll() is None  # its attempt is current: it goes on
    if ends == "crashed":
        store().set_run_state(
            run["id"], State(StateType.CRASHED, "Crashed", "Its worker stopped beating.")
        )
    elif ends == "awaiting retry":  # what the scheduler does with a crashed run at once
        from papermill_bridge import Scheduler

        store().set_run_state(
            run["id"], State(StateType.CRASHED, "Crashed", "Its worker stopped beating.")
        )
        Scheduler()._retry(store().read_flow_run(run["id"]))
        assert store().read_flow_run(run["id"])["state"] == "AwaitingRetry"
    elif ends == "retried":
        store().set_run_state(run["id"], State(StateType.RUNNING, "Running"))  # attempt 2 began
    else:
        store().set_run_state(run["id"], State(StateType.SCHEDULED, "AwaitingRetry"))
        assert store().claim_next_run("w2", time.time() + 60) is not None
    _, err = kernel.communicate(timeout=15)
    assert kernel.returncode == 75
    assert "attempt 1 is over in the store" in err


def test_a_stale_worker_does_not_end_a_newer_attempt(home: Path) -> None:
    """A worker whose run was reaped and claimed by another must not write its outcome
    over the new attempt."""
    from papermill_bridge import promote, start_run

    promote(write_notebook(home), "greet", retries=1)
    run = start_run("greet")
    store().claim_next_run("w1", time.time())
    first = store().set_run_state(run["id"], State(StateType.RUNNING, "Running"))
    store().set_run_state(
        run["id"], State(StateType.CRASHED, "Crashed", "Its worker w1 stopped beating.")
    )
    store().set_run_state(run["id"], State(StateType.SCHEDULED, "AwaitingRetry"))
    assert store().claim_next_run("w2", time.time() + 60) is not None
    store().set_run_state(run["id"], State(StateType.RUNNING, "Running"))  # attempt 2, on w2
    late = store().set_run_state(
        run["id"],
        State(StateType.CRASHED, "Crashed", "w1's late outcome"),
        only_from=(StateType.PENDING, StateType.RUNNING, StateType.CANCELLING),
        attempt=("w1", first["run_count"]),
    )
    assert (late["state"], late["worker_id"], late["run_count"]) == ("Running", "w2", 2)
