"""Grouping mapped runs and deduplicating edges: the graph the browser is sent."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kernel_ext._run_records import FlowRunId, TaskRun, TaskRunId
from kernel_ext._states import State, StateType
from kernel_ext.widgets._aggregate import (
    GROUP_ABOVE,
    MAX_NODES,
    build_payload,
    group_nodes,
    task_run_of_record,
)

_numbers = itertools.count()


def run(
    run_id: str,
    key: str = "m.inc",
    state: str = "Completed",
    state_type: str = "COMPLETED",
    upstream: tuple[str, ...] = (),
    start: float | None = 100.0,
    end: float | None = 101.0,
    run_count: int = 1,
) -> TaskRun:
    name = f"{key.split('.')[-1]}-{next(_numbers)}"
    return TaskRun(
        TaskRunId(run_id),
        name,
        key,
        FlowRunId("f"),
        [TaskRunId(u) for u in upstream],
        state=State(StateType(state_type), state),
        start_time=start,
        end_time=end,
        run_count=run_count,
    )


def mapped(n: int, key: str = "m.inc", **kwargs: Any) -> list[TaskRun]:
    return [run(f"{key}{i}", key, **kwargs) for i in range(n)]


@pytest.mark.parametrize(
    ("runs", "expected_nodes"),
    [
        pytest.param(mapped(GROUP_ABOVE), GROUP_ABOVE, id="up to the threshold: separate"),
        pytest.param(mapped(GROUP_ABOVE + 1), 1, id="above it: one group"),
        pytest.param(mapped(10_000), 1, id="10,000 mapped runs: one node"),
        pytest.param(mapped(30, "m.a") + mapped(5, "m.b"), 6, id="only the big task groups"),
    ],
)
def test_mapped_runs_collapse_above_the_threshold(runs: list[TaskRun], expected_nodes: int) -> None:
    nodes, _, hidden = group_nodes(runs, now=200.0)
    assert len(nodes) == expected_nodes
    assert hidden == 0


def test_a_group_counts_its_runs_by_state() -> None:
    runs = [
        *mapped(25),
        run("r", state="Running", state_type="RUNNING", end=None),
        run("f", state="Failed", state_type="FAILED"),
    ]
    (group,), _, _ = group_nodes(runs, now=110.0)
    assert group["id"] == "group:m.inc"
    assert group["kind"] == "group"
    assert group["name"] == "inc"
    assert (group["count"], group["done"]) == (27, 26)
    assert group["counts"] == {"Completed": 25, "Running": 1, "Failed": 1}
    assert group["state"] == "Running"  # live while unfinished
    assert group["duration"] == pytest.approx(10.0)  # from the first start until now
    assert group["members"][0] == "f"  # failed first, for the side panel
    assert len(group["members"]) == 10


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([("Completed", "COMPLETED")], "Completed"),
        ([("Cached", "COMPLETED")], "Cached"),
        ([("Cached", "COMPLETED"), ("Completed", "COMPLETED")], "Completed"),
        ([("Completed", "COMPLETED"), ("TimedOut", "FAILED")], "TimedOut"),
        ([("Completed", "COMPLETED"), ("Cancelled", "CANCELLED")], "Cancelled"),
        ([("Failed", "FAILED"), ("Pending", "PENDING")], "Pending"),
        ([("AwaitingRetry", "SCHEDULED"), ("Running", "RUNNING")], "Running"),
    ],
)
def test_a_group_shows_its_liveliest_then_its_worst_state(
    states: list[tuple[str, str]], expected: str
) -> None:
    runs = [
        run(f"{i}", state=name, state_type=kind)
        for i in range(GROUP_ABOVE + 1)
        for name, kind in [states[i % len(states)]]
    ]
    (group,), _, _ = group_nodes(runs, now=200.0)
    assert group["state"] == expected


def test_a_group_counts_every_final_state_as_done() -> None:
    runs = [*mapped(20), run("t", state="TimedOut", state_type="FAILED"), run("c", state="Cached")]
    (group,), _, _ = group_nodes(runs, now=200.0)
    assert (group["done"], group["count"], group["state"]) == (22, 22, "TimedOut")
    assert group["duration"] == pytest.approx(1.0)


def test_edges_between_groups_are_deduplicated() -> None:
    firsts = mapped(100, "m.load")
    seconds = [run(f"t{i}", "m.transform", upstream=(f"m.load{i}",)) for i in range(100)]
    reduce = run("sum", "m.total", upstream=tuple(r.id for r in seconds))
    nodes, edges, _ = group_nodes([*firsts, *seconds, reduce], now=200.0)
    assert [n["id"] for n in nodes] == ["group:m.load", "group:m.transform", "sum"]
    assert edges == [("group:m.load", "group:m.transform"), ("group:m.transform", "sum")]


def test_edges_from_runs_outside_the_flow_run_are_dropped() -> None:
    _, edges, _ = group_nodes([run("a"), run("b", upstream=("a", "elsewhere"))], now=0)
    assert edges == [("a", "b")]


def test_a_chain_of_one_task_stays_separate() -> None:
    chain = [run("0", "m.step")] + [
        run(str(i), "m.step", upstream=(str(i - 1),)) for i in range(1, 30)
    ]
    nodes, edges, _ = group_nodes(chain, now=0)
    assert len(nodes) == 30
    assert len(edges) == 29


def test_a_chain_too_long_to_draw_collapses_too() -> None:
    chain = [run("0", "m.step")] + [
        run(str(i), "m.step", upstream=(str(i - 1),)) for i in range(1, MAX_NODES + 10)
    ]
    nodes, edges, hidden = group_nodes(chain, now=0)
    assert [n["id"] for n in nodes] == ["group:m.step"]
    assert edges == []  # no edge from a node to itself
    assert hidden == 0


def test_nodes_beyond_the_limit_are_counted_not_sent() -> None:
    runs = [run(str(i), f"m.task{i}") for i in range(MAX_NODES + 7)]
    nodes, _, hidden = group_nodes(runs, now=0)
    assert (len(nodes), hidden) == (MAX_NODES, 7)


def test_a_single_run_node() -> None:
    (node,), _, _ = group_nodes([run("a", run_count=3, start=10.0, end=None)], now=12.5)
    assert node["name"].startswith("inc-")
    assert node == {
        "id": "a",
        "kind": "run",
        "name": node["name"],
        "task_key": "m.inc",
        "state": "Completed",
        "state_type": "COMPLETED",
        "message": None,
        "duration": 2.5,
        "run_count": 3,
        "count": 1,
        "done": 1,
        "counts": {"Completed": 1},
        "members": [],
    }


def test_the_payload_carries_the_run_and_totals() -> None:
    payload = build_payload(None, mapped(50), now=0, final=False)
    assert payload["run"] is None
    assert (payload["task_runs"], payload["hidden"], payload["final"]) == (50, 0, False)
    assert len(payload["nodes"]) == 1


def test_task_runs_of_store_records() -> None:
    record = {
        "id": "x",
        "name": "inc-0",
        "task_key": "m.inc",
        "state": "Failed",
        "state_type": "FAILED",
        "state_message": "ValueError: no",
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-01T00:00:02.5+00:00",
        "run_count": 2,
        "upstream": ["a"],
    }
    task_run = task_run_of_record(record)
    assert task_run.end_time is not None and task_run.start_time is not None
    assert task_run.end_time - task_run.start_time == pytest.approx(2.5)
    assert task_run.state is not None and task_run.state.is_failed()
    assert (task_run.state.name, task_run.state.message) == ("Failed", "ValueError: no")
    assert task_run.upstream == ["a"]
