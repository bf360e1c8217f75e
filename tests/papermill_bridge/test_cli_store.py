"""``taskbook store`` and retention as a user runs them, and the scheduler applying it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from kernel_ext._states import Completed, Running
from kernel_ext.store import reset_store
from papermill_bridge._scheduler import PRUNE_EVERY_SECONDS, Scheduler
from tests.papermill_bridge.test_cli import taskbook
from tests.papermill_bridge.test_deployments import home, store
from tests.store.helpers import Runs

__all__ = ["home"]

DAY = 86400.0


def _old_run(days_ago: float) -> str:
    runs, at = Runs(), time.time() - days_ago * DAY
    flow = runs.flow("etl")
    task = runs.task(flow)
    for run in (flow, task):
        store().submit(runs.move(run, Running(timestamp=at - 1)))
    for run in (task, flow):
        store().submit(runs.move(run, Completed(timestamp=at)))
    store().flush()
    return str(flow.id)


@pytest.mark.parametrize(
    "args",
    [
        ["store", "prune", "--older-than", "3x"],
        ["store", "prune", "--older-than", "30d", "--keep-failed", "-1d"],
        ["store", "retention", "--older-than", "0"],
        ["deployments", "retention", "nightly", "--keep-failed", "soon"],
    ],
)
def test_a_bad_duration_is_one_line_and_status_1(tmp_path: Path, args: list[str]) -> None:
    done = taskbook(tmp_path, *args, check=False)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("Error: --") and "Traceback" not in done.stderr


def test_prune_dry_run_then_prune_and_info(home: Path) -> None:
    old, recent = _old_run(40), _old_run(1)
    reset_store()  # the CLI is another process: let go of the file

    dry = json.loads(
        taskbook(home, "store", "prune", "--older-than", "30d", "--dry-run", "--json").stdout
    )
    assert (dry["dry_run"], dry["flow_runs"], dry["task_runs"]) == (True, 1, 1)
    out = taskbook(home, "store", "prune", "--older-than", "30d").stdout
    assert out.startswith("Deleted 1 flow runs (0 subflows), 1 task runs")

    info: dict[str, Any] = json.loads(taskbook(home, "store", "info", "--json").stdout)
    rows = {size["table"]: size["rows"] for size in info["tables"]}
    assert rows["flow_runs"] == 1 and rows["task_runs"] == 1
    assert info["database_bytes"] > 0 and info["retention_would_remove"]["flow_runs"] == 0
    assert [run["id"] for run in store().list_flow_runs()] == [recent] and old != recent


def test_retention_policies_from_the_cli(home: Path) -> None:
    shown = taskbook(home, "store", "retention", "--older-than", "30d", "--keep-failed", "90d")
    assert shown.stdout.strip() == "The store: runs go 30d after they end, failed ones stay 90d."
    taskbook(home, "deploy", str(_notebook(home)), "--name", "nightly")
    taskbook(home, "deployments", "retention", "nightly", "--keep", "100")
    policy = json.loads(taskbook(home, "deployments", "retention", "nightly", "--json").stdout)
    assert policy == {"older_than": None, "keep": 100, "keep_failed": None}
    cleared = taskbook(home, "deployments", "retention", "nightly", "--none").stdout
    assert cleared.strip() == "Deployment 'nightly': no retention policy."
    both = taskbook(home, "store", "retention", "--none", "--older-than", "1d", check=False)
    assert both.returncode == 1 and "give it alone" in both.stderr


def test_the_scheduler_applies_the_policy_every_few_minutes(home: Path) -> None:
    store().set_retention({"older_than": 30 * DAY, "keep": None, "keep_failed": None})
    _old_run(40)
    scheduler, now = Scheduler(), time.time()
    assert scheduler.tick(now)["pruned"] == 1
    _old_run(40)
    assert scheduler.tick(now + 5)["pruned"] == 0  # not yet time
    assert scheduler.tick(now + PRUNE_EVERY_SECONDS)["pruned"] == 1
    assert Scheduler(deployments=["x"]).tick(now)["pruned"] == 0  # a served flow's: not its job


def _notebook(folder: Path) -> Path:
    from tests.papermill_bridge.test_deployments import write_notebook

    return write_notebook(folder)
