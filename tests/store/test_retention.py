"""Pruning old runs: what goes (with its files), what stays, and the dry run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kernel_ext._errors import DeploymentNotFound, RunNotFound
from kernel_ext._run_records import FlowRun
from kernel_ext._states import Completed, Crashed, Failed, Paused, Running, State
from kernel_ext.store import Store
from tests.store.helpers import Runs, count_rows, promote, schedule_run

DAY = 86400.0
NOW = time.time()


def _old_run(
    store: Store, runs: Runs, days_ago: float, end: State | None = None, tasks: int = 2
) -> FlowRun:
    """A flow run with ``tasks`` task runs (a log line each) that ended ``days_ago`` days ago
    in ``end`` (Completed by default), or did not end when ``end`` is not final."""
    at = NOW - days_ago * DAY
    flow = runs.flow("etl")
    store.submit(runs.move(flow, Running(timestamp=at - 60)))
    for _ in range(tasks):
        task = runs.task(flow)
        store.submit(runs.move(task, Running(timestamp=at - 30)))
        store.submit(runs.move(task, Completed(timestamp=at - 10)))
        store.submit(runs.log(task, "done"))
    final = Completed(timestamp=at) if end is None else end
    store.submit(runs.move(flow, final))
    store.flush()
    return flow


def _exists(store: Store, run: FlowRun) -> bool:
    try:
        store.read_history(run.id)
    except RunNotFound:
        return False
    return True


def test_prune_takes_old_finished_runs_and_leaves_the_rest(
    store: Store, runs: Runs, store_url: str
) -> None:
    old = _old_run(store, runs, 40)
    recent = _old_run(store, runs, 5)
    running = _old_run(store, runs, 40, Running(timestamp=NOW - 40 * DAY))
    paused = _old_run(store, runs, 40, Paused(timestamp=NOW - 40 * DAY))
    old_failed = _old_run(store, runs, 40, Failed(timestamp=NOW - 40 * DAY))
    ancient_crash = _old_run(store, runs, 100, Crashed(timestamp=NOW - 100 * DAY))

    report = store.prune_runs(30 * DAY, keep_failed=90 * DAY, now=NOW)

    assert (report["flow_runs"], report["task_runs"], report["log_lines"]) == (2, 4, 4)
    assert report["states"] == 2 * (2 + 2 * 2)  # Running and final of each run and task
    assert report["dry_run"] is False and report["maintenance"] == ["ANALYZE"]
    assert not _exists(store, old) and not _exists(store, ancient_crash)
    for kept in (recent, running, paused, old_failed):
        assert _exists(store, kept)
    assert count_rows(store_url, "task_runs") == 8


def test_without_keep_failed_failed_runs_go_at_the_same_cut(store: Store, runs: Runs) -> None:
    failed = _old_run(store, runs, 40, Failed(timestamp=NOW - 40 * DAY))
    assert store.prune_runs(30 * DAY, now=NOW)["flow_runs"] == 1
    assert not _exists(store, failed)


def test_dry_run_counts_and_changes_nothing(store: Store, runs: Runs, store_url: str) -> None:
    for _ in range(3):
        _old_run(store, runs, 40)
    before = count_rows(store_url, "state_history")

    report = store.prune_runs(30 * DAY, dry_run=True, now=NOW)

    assert report["dry_run"] is True
    assert (report["flow_runs"], report["task_runs"], report["log_lines"]) == (3, 6, 6)
    assert report["states"] == before
    assert count_rows(store_url, "flow_runs") == 3 and count_rows(store_url, "logs") == 6
    assert store.prune_runs(30 * DAY, now=NOW)["states"] == before


def test_small_batches_take_everything_in_several_transactions(store: Store, runs: Runs) -> None:
    for _ in range(7):
        _old_run(store, runs, 40, tasks=1)
    report = store.prune_runs(30 * DAY, batch=2, now=NOW)
    assert report["flow_runs"] == 7 and report["batches"] >= 2
    assert store.list_flow_runs() == []


def test_subflows_go_with_their_parent(store: Store, runs: Runs) -> None:
    at = NOW - 40 * DAY
    flow = runs.flow("etl")
    task = runs.task(flow)
    sub = runs.flow("sub", parent_task_run_id=task.id)
    for run in (flow, task, sub):
        store.submit(runs.move(run, Running(timestamp=at - 1)))
    for run in (sub, task, flow):
        store.submit(runs.move(run, Completed(timestamp=at)))
    store.flush()
    report = store.prune_runs(30 * DAY, now=NOW)
    assert (report["flow_runs"], report["subflows"], report["task_runs"]) == (1, 1, 1)
    assert not _exists(store, sub)


def test_result_files_go_unless_a_remaining_run_points_at_them(
    store: Store, runs: Runs, tmp_path: Path
) -> None:
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    for path in (alone, shared):
        path.write_bytes(b"result")
        os.utime(path, (NOW - 41 * DAY, NOW - 41 * DAY))
    old = _old_run(store, runs, 40, tasks=0)
    old_task = runs.task(old)
    store.submit(runs.move(old_task, Completed(timestamp=NOW - 40 * DAY)))
    store.submit(runs.result(old_task, "key-a", str(alone)))
    store.submit(runs.result(old_task, "key-s", str(shared)))
    newer = _old_run(store, runs, 1, tasks=0)
    newer_task = runs.task(newer)
    store.submit(runs.move(newer_task, Completed(timestamp=NOW - DAY)))
    store.submit(runs.result(newer_task, "key-s", str(shared)))  # a cache hit on it
    store.flush()

    assert store.prune_runs(30 * DAY, dry_run=True, now=NOW)["result_files"] == 1
    report = store.prune_runs(30 * DAY, now=NOW)

    assert (report["results"], report["result_files"]) == (2, 1)
    assert not alone.exists() and shared.exists()
    assert store.lookup_result("key-s") is not None


def test_a_result_file_written_again_since_the_cut_stays(
    store: Store, runs: Runs, tmp_path: Path
) -> None:
    rewritten = tmp_path / "rewritten"
    rewritten.write_bytes(b"result")  # just now: its new row may still be in a writer's queue
    old = _old_run(store, runs, 40, tasks=0)
    task = runs.task(old)
    store.submit(runs.move(task, Completed(timestamp=NOW - 40 * DAY)))
    store.submit(runs.result(task, "key", str(rewritten)))
    store.flush()
    assert store.prune_runs(30 * DAY, now=NOW)["result_files"] == 0
    assert rewritten.exists()


def test_output_notebooks_under_the_outputs_folder_go(
    store: Store, runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKBOOK_HOME", str(tmp_path / "home"))
    deployment = promote(store)
    ours = tmp_path / "home" / "outputs" / "nightly" / "a.ipynb"
    elsewhere = tmp_path / "mine.ipynb"
    for index, path in enumerate((ours, elsewhere)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        run = schedule_run(store, deployment, NOW - 41 * DAY)
        assert run is not None
        store.set_run_state(run["id"], Running(timestamp=NOW - 41 * DAY))
        store.set_run_state(run["id"], Completed(timestamp=NOW - 40 * DAY - index))
        store.set_output_notebook(run["id"], str(path))

    report = store.prune_runs(30 * DAY, deployment="nightly", now=NOW)

    assert (report["flow_runs"], report["output_notebooks"]) == (2, 1)
    assert not ours.exists() and elsewhere.exists()


def test_deployment_filter(store: Store, runs: Runs) -> None:
    _old_run(store, runs, 40)
    promote(store)
    assert store.prune_runs(30 * DAY, deployment="nightly", now=NOW)["flow_runs"] == 0
    with pytest.raises(DeploymentNotFound):
        store.prune_runs(30 * DAY, deployment="nope", now=NOW)


def test_vacuum_and_table_sizes(store: Store, runs: Runs) -> None:
    _old_run(store, runs, 40)
    report = store.prune_runs(30 * DAY, vacuum=True, now=NOW)
    assert report["maintenance"] == ["VACUUM", "ANALYZE"]
    sizes = {size["table"]: size for size in store.table_sizes()}
    assert sizes["flow_runs"]["rows"] == 0 and "results" in sizes
    assert all(size["bytes"] is None or size["bytes"] >= 0 for size in sizes.values())
    assert store.database_bytes() > 0


def _deployment_run(
    store: Store, deployment: dict[str, object], days_ago: float, end: State
) -> str:
    run = schedule_run(store, deployment, NOW - days_ago * DAY - 60)
    assert run is not None
    store.set_run_state(run["id"], Running(timestamp=NOW - days_ago * DAY - 30))
    store.set_run_state(run["id"], end)
    return str(run["id"])


def test_policies_per_deployment_and_the_default_for_the_rest(store: Store, runs: Runs) -> None:
    nightly = promote(store, "nightly")
    kept_newest = [
        _deployment_run(store, nightly, days, Completed(timestamp=NOW - days * DAY))
        for days in (1, 2)
    ]
    beyond = _deployment_run(store, nightly, 3, Completed(timestamp=NOW - 3 * DAY))
    failed = _deployment_run(store, nightly, 4, Failed(timestamp=NOW - 4 * DAY))
    other = promote(store, "hourly")
    other_old = _deployment_run(store, other, 40, Completed(timestamp=NOW - 40 * DAY))
    loose_old = _old_run(store, runs, 40)
    loose_recent = _old_run(store, runs, 10)
    store.set_retention({"older_than": None, "keep": 2, "keep_failed": 30 * DAY}, "nightly")
    store.set_retention({"older_than": 30 * DAY, "keep": None, "keep_failed": None})
    assert store.read_retention("nightly") == {
        "older_than": None,
        "keep": 2,
        "keep_failed": 30 * DAY,
    }

    assert store.apply_retention(NOW, dry_run=True)["flow_runs"] == 3
    report = store.apply_retention(NOW, max_batches=1)

    assert report["flow_runs"] == 3
    left = {run["id"] for run in store.list_flow_runs()}
    assert left == {*kept_newest, failed, loose_recent.id}
    assert beyond not in left and other_old not in left and loose_old.id not in left
    store.set_retention(None, "nightly")
    store.set_retention(None)
    assert store.read_retention("nightly") is None and store.read_retention() is None
    assert store.apply_retention(NOW)["flow_runs"] == 0


def test_a_deployment_policy_keeps_its_runs_from_a_shorter_default(store: Store) -> None:
    nightly = promote(store, "nightly")
    run = _deployment_run(store, nightly, 40, Completed(timestamp=NOW - 40 * DAY))
    store.set_retention({"older_than": 90 * DAY, "keep": None, "keep_failed": None}, "nightly")
    store.set_retention({"older_than": 30 * DAY, "keep": None, "keep_failed": None})
    assert store.apply_retention(NOW)["flow_runs"] == 0
    assert [r["id"] for r in store.list_flow_runs()] == [run]
