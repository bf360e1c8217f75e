"""Deployments end to end on the embedded store: promote, version, run headless, schedule.

Runs execute for real: a worker claims them and papermill runs the notebook snapshot in a
real kernel, with the run's parameters injected and the run attached.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernel_ext import ParameterValidationError
from kernel_ext.testing import taskbook_test_harness

pytestmark = pytest.mark.slow

SOURCE = [
    ("%load_ext kernel_ext", []),
    ("greeting = 'hello'  # what to say\nrepeat = 2  # how many times", ["parameters"]),
    ("%%task shout\nmessage = (greeting.upper() + '! ') * repeat\nprint(message)", []),
    ("%%task count\nletters = len(message)", []),
]


def write_notebook(folder: Path, extra: str | None = None, more: str | None = None) -> Path:
    notebook = nbformat.v4.new_notebook()
    for source, tags in SOURCE:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    for source in (extra, more):
        if source:
            notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "greet.ipynb"
    nbformat.write(notebook, path)
    return path


def printed_text(path: str) -> str:
    """Everything the cells of an output notebook printed."""
    output = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in output.cells for o in c.get("outputs", []))


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Any:
    with taskbook_test_harness() as path:
        # The worker's child processes read the environment, not this process's overrides.
        monkeypatch.setenv("TASKBOOK_HOME", str(path))
        monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
        monkeypatch.delenv("TASKBOOK_RESULTS_URL", raising=False)
        yield path


def store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


def test_promote_versions_and_changes(home: Path) -> None:
    from papermill_bridge import promote, version_changes

    path = write_notebook(home)
    first = promote(path, "greet")
    assert first["versions"][0]["version"] == 1
    assert promote(path, "greet")["versions"][0]["version"] == 1  # unchanged: no new version
    write_notebook(home, extra="print('done')")
    second = promote(path, "greet", parameters={"repeat": "3"})
    assert second["versions"][0]["version"] == 2
    old, new = (store().read_deployment_version("greet", v) for v in (1, 2))
    assert version_changes(old, new) == ["cell 5 added", "parameter repeat: 2 -> 3"]
    path.write_text("{}")  # editing the file does not change what version 2 runs
    assert "print('done')" in store().read_deployment_version("greet", 2)["notebook"]


def test_bad_parameters_are_refused_before_any_kernel(home: Path) -> None:
    from papermill_bridge import promote, start_run

    promote(write_notebook(home), "greet")
    with pytest.raises(ParameterValidationError, match="Valid parameters: greeting: str"):
        start_run("greet", {"colour": "red"})
    with pytest.raises(ParameterValidationError, match="'repeat' must be int"):
        start_run("greet", {"repeat": "many"})
    assert store().list_runs_of_deployment("greet", 10) == []


def test_a_run_executes_headless_with_its_parameters(home: Path) -> None:
    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home), "greet")
    run = start_run("greet", {"greeting": "hi", "repeat": "3"})
    assert Worker().run_once()
    finished = store().read_flow_run(run["id"])
    assert finished["state"] == "Completed", finished
    printed = printed_text(finished["output_notebook"])
    assert "HI! HI! HI!" in printed
    names = {t["name"]: t for t in finished["task_runs"]}
    assert names["count-0"]["upstream"] == [names["shout-0"]["id"]]
    assert finished["parameters"] == {"greeting": "hi", "repeat": 3}


def test_a_failing_notebook_fails_the_run_with_the_cell(home: Path) -> None:
    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home, extra="raise ValueError('bad data')"), "greet")
    run = start_run("greet")
    Worker().run_once()
    finished = store().read_flow_run(run["id"])
    assert finished["state"] == "Failed"
    assert "ValueError: bad data" in finished["state_message"]


def test_schedule_slots_run_once(home: Path) -> None:
    from papermill_bridge import Scheduler, promote
    from papermill_bridge.schedules import parse_schedule

    spec = parse_schedule(interval="1m", anchor=datetime.now(UTC) - timedelta(minutes=10))
    promote(write_notebook(home), "greet", schedules=[{"spec": spec.to_dict()}])
    later = time.time() + 600  # ten slots came due while nothing was running
    first = Scheduler().tick(now=later)
    second = Scheduler().tick(now=later)
    assert first["created"] == 1 and first["skipped"] >= 8  # catch-up: the latest slot only
    assert second["created"] == 0
    runs = store().list_runs_of_deployment("greet", 100)
    assert sum(r["state"] in ("Scheduled", "Late") for r in runs) == 1


def test_cancel_stops_the_kernel(home: Path) -> None:
    import threading

    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home, extra="import time\ntime.sleep(120)"), "greet")
    run = start_run("greet")
    worker = Worker(heartbeat_seconds=0.5)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    deadline = time.monotonic() + 60
    while store().read_flow_run(run["id"])["state"] != "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    store().request_cancel(run["id"])
    thread.join(timeout=60)
    assert store().read_flow_run(run["id"])["state"] == "Cancelled"


def test_cli_deploy_and_run(home: Path) -> None:
    import subprocess
    import sys

    taskbook = str(Path(sys.executable).with_name("taskbook"))
    path = write_notebook(home)
    deployed = subprocess.run(
        [
            taskbook,
            "deploy",
            str(path),
            "--name",
            "greet",
            "--cron",
            "0 6 * * *",
            "--timezone",
            "Europe/Berlin",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert deployed.returncode == 0, deployed.stderr
    shown = subprocess.run(
        [taskbook, "deployments", "show", "greet"], capture_output=True, text=True
    )
    assert "every day at 06:00 (Europe/Berlin)" in shown.stdout
    bad = subprocess.run(
        [taskbook, "run", "greet", "-p", "repeat=lots"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "'repeat' must be int" in bad.stderr
    created = json.loads(
        subprocess.run([taskbook, "run", "greet", "--json"], capture_output=True, text=True).stdout
    )
    assert created["state"] == "Scheduled"
    paused = json.loads(
        subprocess.run(
            [taskbook, "deployments", "pause", "greet", "--json"], capture_output=True, text=True
        ).stdout
    )
    assert paused["paused"] is True
    cancelled = json.loads(
        subprocess.run(
            [taskbook, "runs", "cancel", created["id"], "--json"], capture_output=True, text=True
        ).stdout
    )
    assert cancelled["state"] == "Cancelled"  # a run not started yet is cancelled at once


def test_a_killed_worker_leaves_a_crashed_run(home: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from papermill_bridge import Scheduler, promote, start_run

    promote(write_notebook(home, extra="import time\ntime.sleep(120)"), "greet", retries=1)
    run = start_run("greet")
    taskbook = str(Path(sys.executable).with_name("taskbook"))
    worker = subprocess.Popen(
        [taskbook, "worker", "--poll", "0.2", "--heartbeat", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while store().read_flow_run(run["id"])["state"] != "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its kernel die at once
    worker.wait()
    time.sleep(2.5)
    assert Scheduler(dead_after_seconds=2).tick()["crashed"] == 1
    retried = store().read_flow_run(run["id"])
    assert retried["state"] == "AwaitingRetry"  # the deployment allows one retry
    names = [s["name"] for s in store().read_history(run["id"])]
    assert names[-2:] == ["Crashed", "AwaitingRetry"]
    assert "stopped beating" in store().read_history(run["id"])[-2]["message"]


def test_a_headless_pause_suspends_and_the_answer_resumes_it(home: Path) -> None:
    """Durable pause: the kernel stops; once answered, the run executes again with the
    same id, cached cells come back from their results and the pause returns the answer."""
    from kernel_ext import approvals
    from papermill_bridge import Worker, promote, start_run

    review = (
        f"%%task before\nchecked = open({str(home / 'side-effects.txt')!r}, 'a').write('ran\\n')"
    )
    decide = (
        "from kernel_ext import pause_flow_run\n"
        "approved = pause_flow_run(wait_for_input=bool, key='ship')\n"
        "print('SHIP' if approved else 'HOLD', message)"
    )
    promote(write_notebook(home, extra=review, more=decide), "greet")
    run = start_run("greet")
    assert Worker().run_once()
    suspended = store().read_flow_run(run["id"])
    assert suspended["state"] == "Suspended", suspended
    (request,) = approvals.pending()
    assert request["flow_run_id"] == run["id"] and request["key"] == "ship"

    approvals.answer(run["id"][:8], "true", answered_by="ada")
    assert store().read_flow_run(run["id"])["state"] == "Resuming"
    assert Worker().run_once()
    finished = store().read_flow_run(run["id"])
    assert finished["state"] == "Completed", finished
    printed = printed_text(finished["output_notebook"])
    assert "SHIP HELLO! HELLO!" in printed
    # The cells that finished before the pause were restored, not run again.
    assert (home / "side-effects.txt").read_text() == "ran\n"
    cells = [t for t in finished["task_runs"] if t["name"].startswith("before")]
    assert [t["state"] for t in cells] == ["Completed", "Cached"]
    names = [s["name"] for s in store().read_history(run["id"])]
    suspended_at = names.index("Suspended")
    assert names[suspended_at : suspended_at + 2] == ["Suspended", "Resuming"]
    assert names[-3:] == ["Running", "Running", "Completed"]
    resumed = store().read_history(run["id"])[-2]
    assert resumed["message"] == "Resumed by ada"
    assert resumed["details"]["answer"] == {"value": True}


def test_backfill_creates_past_slots_once(home: Path) -> None:
    from papermill_bridge import backfill, promote
    from papermill_bridge.schedules import parse_schedule

    spec = parse_schedule(cron="0 6 * * *", timezone="Europe/Berlin")
    promote(write_notebook(home), "greet", schedules=[{"spec": spec.to_dict()}])
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    created, existing = backfill("greet", start, end)
    assert (len(created), existing) == (3, 0)
    again, existing = backfill("greet", start, end)
    assert (again, existing) == ([], 3)
    times = sorted(store().read_flow_run(r)["scheduled_time"] for r in created)
    assert times[0].startswith("2026-03-01T05:00:00")  # 06:00 in Berlin (UTC+1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "0 25 * * *"], "cron field 'hour' got 25; valid: 0-23"),
        (["--cron", "0 6 * * *", "--timezone", "Mars/Olympus"], "IANA"),
        (["--interval", "soon"], "interval"),
    ],
)
def test_bad_schedules_store_nothing(home: Path, args: list[str], message: str) -> None:
    import subprocess
    import sys

    taskbook = str(Path(sys.executable).with_name("taskbook"))
    done = subprocess.run(
        [taskbook, "deploy", str(write_notebook(home)), "--name", "greet", *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert store().list_deployments() == []


def test_bad_notebooks_and_taken_names(home: Path) -> None:
    from kernel_ext import ConfigurationError
    from papermill_bridge import promote

    with pytest.raises(ConfigurationError, match="No notebook at"):
        promote(home / "missing.ipynb", "x")
    (home / "notes.txt").write_text("hi")
    with pytest.raises(ConfigurationError, match="is not a notebook"):
        promote(home / "notes.txt", "x")
    broken = home / "broken.ipynb"
    broken.write_text(write_notebook(home).read_text().replace("repeat = 2", "repeat = (2"))
    with pytest.raises(ConfigurationError, match="`parameters` cell of broken.ipynb is not valid"):
        promote(broken, "x")
    promote(write_notebook(home), "greet")
    other = home / "other"
    other.mkdir()
    with pytest.raises(ConfigurationError, match="'greet' is taken by"):
        promote(write_notebook(other), "greet")
    assert [d["name"] for d in store().list_deployments()] == ["greet"]


def test_a_suspended_flow_resumes_without_rerunning_finished_tasks(home: Path) -> None:
    from kernel_ext import approvals
    from papermill_bridge import Worker, promote, start_run

    flow_cell = (
        "from kernel_ext import flow, pause_flow_run, task\n\n"
        "@task\n"
        "def expensive(x: int) -> int:\n"
        f"    open({str(home / 'task-runs.txt')!r}, 'a').write('ran\\n')\n"
        "    return x * 2\n\n"
        "@flow\n"
        "def review() -> int:\n"
        "    value = expensive(21)\n"
        "    return value if pause_flow_run(wait_for_input=bool, key='go') else 0\n\n"
        "print('RESULT', review())"
    )
    promote(write_notebook(home, extra=flow_cell), "greet")
    run = start_run("greet")
    Worker().run_once()
    assert store().read_flow_run(run["id"])["state"] == "Suspended"
    approvals.answer(run["id"], "true")
    Worker().run_once()
    finished = store().read_flow_run(run["id"])
    assert finished["state"] == "Completed", finished
    assert "RESULT 42" in printed_text(finished["output_notebook"])
    assert (home / "task-runs.txt").read_text() == "ran\n"  # not run again on resume
