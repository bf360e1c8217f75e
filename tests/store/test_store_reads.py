"""Listing, filtering and resolving runs; what unknown ids raise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kernel_ext._errors import RunNotFound
from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun, TaskRunId
from kernel_ext._states import Cached, Completed, Failed, Running, State
from kernel_ext.store import Store
from tests.store.helpers import Runs


def _write(store: Store, runs: Runs, *pairs: tuple[FlowRun | TaskRun, State]) -> None:
    for run, state in pairs:
        store.submit(runs.move(run, state))
    store.flush()


def test_flow_runs_are_listed_newest_first_and_filtered(store: Store, runs: Runs) -> None:
    etl = [runs.flow("etl", created=1_700_000_000 + i) for i in range(3)]
    report = runs.flow("report", created=1_700_000_010)
    _write(
        store,
        runs,
        (etl[0], Completed()),
        (etl[1], Failed(message="bad input")),
        (etl[2], Running()),
        (report, Completed()),
    )

    listed = store.list_flow_runs()
    assert [r["id"] for r in listed] == [report.id, etl[2].id, etl[1].id, etl[0].id]
    assert [r["id"] for r in store.list_flow_runs(limit=2)] == [report.id, etl[2].id]
    assert {r["id"] for r in store.list_flow_runs(name="etl")} == {r.id for r in etl}
    assert [r["id"] for r in store.list_flow_runs(name="report-run")] == [report.id]
    for state in ("Completed", "completed", "COMPLETED"):
        assert [r["id"] for r in store.list_flow_runs(state=state)] == [report.id, etl[0].id]
    assert [r["id"] for r in store.list_flow_runs(state="Failed", name="etl")] == [etl[1].id]
    assert listed[2]["state_message"] == "bad input"
    assert listed[1]["duration"] is None  # still running
    assert set(listed[0]) >= {
        "id",
        "name",
        "flow_name",
        "state",
        "state_type",
        "start_time",
        "end_time",
        "duration",
        "parameters",
        "tags",
        "parent_task_run_id",
    }
    json.dumps(listed)


def test_a_state_type_matches_all_its_names(store: Store, runs: Runs) -> None:
    done, cached = runs.flow(), runs.flow()
    _write(store, runs, (done, Completed()), (cached, Cached()))
    assert len(store.list_flow_runs(state="COMPLETED")) == 2
    assert [r["id"] for r in store.list_flow_runs(state="Cached")] == [cached.id]


def test_task_runs_called_outside_a_flow_are_kept(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    inside, outside = runs.task(flow), runs.task(None, "adhoc")
    _write(store, runs, (flow, Running()), (inside, Completed()), (outside, Completed()))
    orphans = store.list_orphan_task_runs(limit=10)
    assert [t["id"] for t in orphans] == [outside.id]
    assert orphans[0]["flow_run_id"] is None
    assert store.list_orphan_task_runs(limit=0) == []


def test_a_subflow_points_at_its_parent_task_run(store: Store, runs: Runs) -> None:
    parent = runs.flow("parent")
    call = runs.task(parent, "child-flow")
    child = runs.flow("child", parent_task_run_id=call.id)
    _write(store, runs, (parent, Running()), (call, Running()), (child, Completed()))
    assert store.read_flow_run(child.id)["parent_task_run_id"] == call.id


def test_short_id_prefixes_resolve_like_git(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    flow.id = FlowRunId("abc12345-0000-0000-0000-000000000000")
    task = runs.task(flow)
    task.id = TaskRunId("abc99999-0000-0000-0000-000000000000")
    other = runs.task(flow)
    other.id = TaskRunId("abd00000-0000-0000-0000-000000000000")
    _write(store, runs, (flow, Running()), (task, Running()), (other, Running()))

    assert store.find_runs("abc1") == [flow.id]
    assert store.find_runs("abc") == [flow.id, task.id]  # ambiguous: the CLI asks
    assert store.find_runs("ab", limit=2) == [flow.id, task.id]
    assert store.find_runs("abd") == [other.id]
    assert store.find_runs("zzz") == []
    assert store.find_runs("a_c") == []  # LIKE wildcards are taken literally
    assert store.find_runs("%") == []


@pytest.mark.parametrize(
    "read",
    [
        lambda s, i: s.read_flow_run(i),
        lambda s, i: s.read_task_run(i),
        lambda s, i: s.read_history(i),
        lambda s, i: s.read_logs(i),
    ],
    ids=["flow", "task", "history", "logs"],
)
def test_unknown_ids_raise_run_not_found(store: Store, read: Callable[[Store, str], Any]) -> None:
    with pytest.raises(RunNotFound, match=r"'no-such-run'.*taskbook runs ls"):
        read(store, "no-such-run")


def test_a_task_run_id_is_not_a_flow_run(store: Store, runs: Runs) -> None:
    task = runs.task()
    _write(store, runs, (task, Running()))
    with pytest.raises(RunNotFound, match="flow run"):
        store.read_flow_run(task.id)
    assert store.read_logs(task.id) == []


def test_a_follower_reads_the_tail_then_only_what_came_since(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    task = runs.task(flow)
    _write(store, runs, (flow, Running()), (task, Running()))
    for i in range(5):
        store.submit(runs.log(task if i % 2 else flow, f"line {i}", level=30 if i == 3 else 20))
    store.flush()

    everything = store.read_logs(flow.id)
    assert [line["message"] for line in everything] == [f"line {i}" for i in range(5)]
    tail = store.read_logs(flow.id, tail=2)
    assert [line["message"] for line in tail] == ["line 3", "line 4"]  # still oldest first
    cursor = max(line["id"] for line in tail)
    assert store.read_logs(flow.id, after=cursor) == []

    store.submit(runs.log(task, "line 5"))
    store.submit(runs.log(flow, "line 6"))
    store.flush()
    newer = store.read_logs(flow.id, after=cursor)
    assert [line["message"] for line in newer] == ["line 5", "line 6"]
    assert [line["message"] for line in store.read_logs(flow.id, min_level=30)] == ["line 3"]
    assert [line["message"] for line in store.read_logs(task.id, tail=1)] == ["line 5"]
    assert store.read_logs(flow.id, after=newer[-1]["id"], tail=10) == []
    first = store.read_logs(flow.id, after=0, limit=2)  # a follower's page: the first ones
    assert [line["message"] for line in first] == ["line 0", "line 1"]
    rest = store.read_logs(flow.id, after=first[-1]["id"], limit=10)
    assert [line["message"] for line in rest] == [f"line {i}" for i in range(2, 7)]


def test_runs_are_searched_by_part_of_a_name_tag_time_and_nesting(store: Store, runs: Runs) -> None:
    from datetime import UTC, datetime

    etl = runs.flow("Nightly_ETL", created=1_700_000_000, tags=("prod", "etl"))
    report = runs.flow("report", created=1_700_000_100, tags=("prod",))
    odd = runs.flow("100%_done", created=1_700_000_200, tags=('quo"te',))
    parent_task = runs.task(report)
    sub = runs.flow("sub", created=1_700_000_300, parent_task_run_id=parent_task.id)
    _write(store, runs, *((run, Completed()) for run in (etl, report, odd, sub)))

    def ids(**where: Any) -> list[str]:
        return [r["id"] for r in store.list_flow_runs(**where)]

    assert ids(search="nightly_e") == [etl.id]  # any case; "_" is a letter, not a wildcard
    assert ids(search="ly%e") == []
    assert ids(search="100%") == [odd.id]
    assert ids(search="-RUN") == [sub.id, odd.id, report.id, etl.id]  # the run names
    assert ids(tag="prod") == [report.id, etl.id]
    assert ids(tag='quo"te') == [odd.id] and ids(tag="pro") == []
    at = datetime.fromtimestamp(1_700_000_100, UTC)
    assert ids(since=at) == [sub.id, odd.id, report.id]
    assert ids(until=at) == [etl.id]
    assert ids(top_level=True) == [odd.id, report.id, etl.id]
    first = ids(limit=2)
    assert first == [sub.id, odd.id]
    assert ids(limit=2, before=first[-1]) == [report.id, etl.id]
    assert ids(limit=2, before=etl.id) == []
    with pytest.raises(RunNotFound):
        store.list_flow_runs(before="nope")


def test_the_subflows_of_a_flow_run_are_listed_by_parent(store: Store, runs: Runs) -> None:
    parent = runs.flow("parent", created=1_700_000_000)
    calls = [runs.task(parent, f"call-{i}") for i in range(2)]
    first = runs.flow("child", created=1_700_000_010, parent_task_run_id=calls[0].id)
    second = runs.flow("child", created=1_700_000_020, parent_task_run_id=calls[1].id)
    grandchild_call = runs.task(first, "deeper")
    grandchild = runs.flow(
        "grandchild", created=1_700_000_030, parent_task_run_id=grandchild_call.id
    )
    other = runs.flow("other", created=1_700_000_040)
    _write(
        store,
        runs,
        *((run, Completed()) for run in (parent, *calls, first, second, grandchild_call)),
        (grandchild, Completed()),
        (other, Completed()),
    )

    def ids(**where: Any) -> list[str]:
        return [r["id"] for r in store.list_flow_runs(**where)]

    assert ids(parent=parent.id) == [second.id, first.id]  # newest first, children only
    assert ids(parent=first.id) == [grandchild.id]
    assert ids(parent=other.id) == []
    assert ids(parent=parent.id, limit=1, before=second.id) == [first.id]
    assert ids(parent=parent.id, state="Failed") == []
    with pytest.raises(RunNotFound, match="'nope'"):
        store.list_flow_runs(parent=FlowRunId("nope"))
    with pytest.raises(RunNotFound):
        store.list_flow_runs(parent=FlowRunId(calls[0].id))  # a task run is not a flow run


@pytest.mark.parametrize("probed", [5_000, 1], ids=["run-probed", "range-read"])
def test_a_follower_reads_only_the_task_runs_that_changed(
    store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch, probed: int
) -> None:
    """Both ways to find the changes (a small run's task runs looked up one by one, a big
    run's found in the recent history) give the same task runs."""
    from kernel_ext.store import _reads

    monkeypatch.setattr(_reads, "_LATE_COMMITS", 1000)  # a smaller store shows the same
    monkeypatch.setattr(_reads, "_PROBED_RUNS", probed)
    flow = runs.flow("big")
    early, late = runs.task(flow, "early"), runs.task(flow, "late")
    _write(store, runs, (flow, Running()), (early, Running()), (late, Running()))
    whole = store.read_flow_run(flow.id)
    assert whole["task_runs_complete"] is True
    assert [t["id"] for t in whole["task_runs"]] == [early.id, late.id]

    busy = runs.flow("busy")  # other runs' activity: more history than a read looks back
    _write(store, runs, *((runs.task(busy, f"t{i}"), Completed()) for i in range(1_100)))
    cursor = store.read_flow_run(flow.id)["task_runs_cursor"]
    _write(store, runs, (late, Completed()))

    changed = store.read_flow_run(flow.id, changed_after=cursor)
    assert changed["task_runs_complete"] is False
    assert [(t["id"], t["state"]) for t in changed["task_runs"]] == [(late.id, "Completed")]
    assert changed["task_runs_cursor"] > cursor
    again = store.read_flow_run(flow.id, changed_after=changed["task_runs_cursor"])
    assert [t["id"] for t in again["task_runs"]] == [late.id]  # a few before, to merge by id
    assert store.read_flow_run(flow.id, changed_after=0)["task_runs_complete"] is True
