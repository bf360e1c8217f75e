"""Nothing executed is lost: the process may exit the moment a flow returns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kernel_ext.testing import taskbook_test_harness

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from kernel_ext import flow, task

    @task
    def inc(x):
        return x + 1

    @flow
    def fan_out(n):
        return len(inc.map(range(n)).result())

    assert fan_out(int(sys.argv[1])) == int(sys.argv[1])
    if sys.argv[2] == "hard":
        os._exit(0)  # no atexit, no interpreter shutdown: only what the flow made durable
    """
)


@pytest.mark.parametrize("exit_mode", ["normal", "hard"])
def test_ten_thousand_mapped_task_runs_survive_an_immediate_exit(
    tmp_path: Path, exit_mode: str
) -> None:
    script = tmp_path / "fan_out.py"
    script.write_text(SCRIPT)
    env = {"TASKBOOK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script), "10000", exit_mode], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with taskbook_test_harness(store_url=f"sqlite:///{tmp_path / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        store = get_store()
        (run,) = store.list_flow_runs()
        task_runs = store.read_flow_run(run["id"])["task_runs"]
        assert run["state"] == "Completed"
        assert len(task_runs) == 10_000
        assert {t["state"] for t in task_runs} == {"Completed"}
        sample = task_runs[1234]["id"]
        assert [s["name"] for s in store.read_history(sample)] == [
            "Pending",
            "Running",
            "Completed",
        ]


def test_many_processes_running_flows_on_one_sqlite_file(tmp_path: Path) -> None:
    script = tmp_path / "fan_out.py"
    script.write_text(SCRIPT)
    env = {"TASKBOOK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "1500", "normal"], env=env, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert not any("locked" in e for e in errors)
    with taskbook_test_harness(store_url=f"sqlite:///{tmp_path / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        store = get_store()
        runs = store.list_flow_runs(limit=100)
        assert len(runs) == 8
        assert sum(len(store.read_flow_run(r["id"])["task_runs"]) for r in runs) == 8 * 1500
