"""From task runs to the graph the browser draws: mapped runs grouped, edges deduplicated.

A flow that maps a task over 10,000 items has 10,000 task runs; drawing them would stall
the browser and say nothing. Runs of one task with no edges between them (the runs of a
``.map()``, or of a loop of ``.submit()`` calls) become one node ``name xN  done/total``
once there are more than ``GROUP_ABOVE`` of them. Runs of one task that feed each other (a
chain) stay separate unless the graph would still exceed ``MAX_NODES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kernel_ext._runs import FlowRun, TaskRun
from kernel_ext.widgets._contract import FlowRunSummary, GraphNode, GraphPayload

__all__ = [
    "GROUP_ABOVE",
    "MAX_NODES",
    "RunSnapshot",
    "build_payload",
    "flow_summary",
    "group_nodes",
    "snapshot_of_record",
    "snapshot_of_run",
]

GROUP_ABOVE = 20
MAX_NODES = 500
_MEMBERS_SHOWN = 10
_FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
_BAD = ("FAILED", "CRASHED")
# While some runs are unfinished, the group shows the liveliest state among them.
_LIVE_ORDER = ("RUNNING", "PAUSED", "CANCELLING", "SCHEDULED", "PENDING")


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What the graph needs of one task run, whether live (``TaskRun``) or stored."""

    id: str
    name: str
    task_key: str
    state: str
    state_type: str
    message: str | None
    start: float | None
    end: float | None
    run_count: int
    upstream: tuple[str, ...]

    @property
    def final(self) -> bool:
        return self.state_type in _FINAL


def snapshot_of_run(run: TaskRun) -> RunSnapshot:
    state = run.state
    return RunSnapshot(
        run.id, run.name, run.task_key,
        state.name if state else "Pending", state.type.value if state else "PENDING",
        state.message if state else None,
        run.start_time, run.end_time, run.run_count, tuple(run.upstream),
    )  # fmt: skip


def snapshot_of_record(record: dict[str, Any]) -> RunSnapshot:
    """From a task run record of the store's reads (``read_flow_run()["task_runs"]``)."""
    return RunSnapshot(
        record["id"], record["name"], record["task_key"],
        record["state"] or "Pending", record["state_type"] or "PENDING",
        record.get("state_message"),
        _epoch(record.get("start_time")), _epoch(record.get("end_time")),
        record.get("run_count") or 0, tuple(record.get("upstream") or ()),
    )  # fmt: skip


def flow_summary(run: FlowRun | dict[str, Any], now: float) -> FlowRunSummary:
    if isinstance(run, FlowRun):
        state = run.state
        return {
            "id": run.id, "name": run.name, "flow_name": run.flow_name,
            "state": state.name if state else "Pending",
            "state_type": state.type.value if state else "PENDING",
            "message": state.message if state else None,
            "duration": _duration(run.start_time, run.end_time, now),
        }  # fmt: skip
    return {
        "id": run["id"], "name": run["name"], "flow_name": run["flow_name"],
        "state": run["state"], "state_type": run["state_type"],
        "message": run.get("state_message"), "duration": run.get("duration"),
    }  # fmt: skip


def build_payload(
    run: FlowRunSummary | None, runs: Sequence[RunSnapshot], now: float, final: bool
) -> GraphPayload:
    nodes, edges, hidden = group_nodes(runs, now)
    return {
        "run": run, "nodes": nodes, "edges": edges,
        "task_runs": len(runs), "hidden": hidden, "final": final,
    }  # fmt: skip


def group_nodes(
    runs: Sequence[RunSnapshot], now: float
) -> tuple[list[GraphNode], list[tuple[str, str]], int]:
    """The nodes (in creation order), the edges between them, and how many were cut."""
    groups: dict[str, list[RunSnapshot]] = {}
    for run in runs:
        groups.setdefault(run.task_key, []).append(run)
    big = {key for key, members in groups.items() if len(members) > GROUP_ABOVE}
    collapse = big - _chained(runs, big)
    if _node_count(groups, collapse) > MAX_NODES:
        collapse = big
    node_of: dict[str, str] = {}
    nodes: list[GraphNode] = []
    for run in runs:
        if run.task_key in collapse:
            members = groups[run.task_key]
            node_of[run.id] = f"group:{run.task_key}"
            if members[0] is run:
                nodes.append(_group_node(node_of[run.id], members, now))
        else:
            node_of[run.id] = run.id
            nodes.append(_run_node(run, now))
    hidden = max(0, len(nodes) - MAX_NODES)
    nodes = nodes[:MAX_NODES]
    return nodes, _edges(runs, node_of, {n["id"] for n in nodes}), hidden


def _chained(runs: Iterable[RunSnapshot], keys: set[str]) -> set[str]:
    """The task keys among ``keys`` whose runs feed runs of the same task."""
    key_of = {run.id: run.task_key for run in runs if run.task_key in keys}
    return {
        key_of[run.id]
        for run in runs
        if run.id in key_of and any(key_of.get(up) == run.task_key for up in run.upstream)
    }


def _node_count(groups: dict[str, list[RunSnapshot]], collapse: set[str]) -> int:
    return sum(1 if key in collapse else len(members) for key, members in groups.items())


def _edges(
    runs: Iterable[RunSnapshot], node_of: dict[str, str], shown: set[str]
) -> list[tuple[str, str]]:
    edges: dict[tuple[str, str], None] = {}  # an ordered set: stable layouts
    for run in runs:
        target = node_of[run.id]
        for upstream in run.upstream:
            source = node_of.get(upstream)
            if source is not None and source != target and source in shown and target in shown:
                edges[(source, target)] = None
    return list(edges)


def _run_node(run: RunSnapshot, now: float) -> GraphNode:
    return {
        "id": run.id, "kind": "run", "name": run.name, "task_key": run.task_key,
        "state": run.state, "state_type": run.state_type, "message": run.message,
        "duration": _duration(run.start, run.end, now), "run_count": run.run_count,
        "count": 1, "done": int(run.final), "counts": {run.state: 1}, "members": [],
    }  # fmt: skip


def _group_node(group_id: str, members: list[RunSnapshot], now: float) -> GraphNode:
    counts: dict[str, int] = {}
    types: dict[str, str] = {}
    for run in members:
        counts[run.state] = counts.get(run.state, 0) + 1
        types.setdefault(run.state_type, run.state)
    state_type, state = _group_state(types, counts)
    starts = [run.start for run in members if run.start is not None]
    unfinished = any(not run.final for run in members)
    ends = [run.end for run in members if run.end is not None]
    end = None if unfinished or not ends else max(ends)
    failed_first = sorted(members, key=lambda run: run.state_type not in _BAD)
    return {
        "id": group_id, "kind": "group", "name": _task_name(members[0].name),
        "task_key": members[0].task_key, "state": state, "state_type": state_type,
        "message": None,
        "duration": _duration(min(starts), end, now) if starts else None,
        "run_count": max(run.run_count for run in members), "count": len(members),
        "done": sum(1 for run in members if run.final), "counts": counts,
        "members": [run.id for run in failed_first[:_MEMBERS_SHOWN]],
    }  # fmt: skip


def _group_state(types: dict[str, str], counts: dict[str, int]) -> tuple[str, str]:
    """The (type, name) a group shows: live while unfinished, else its worst outcome."""
    for state_type in (*_LIVE_ORDER, *_BAD, "CANCELLED"):
        if state_type in types:
            return state_type, types[state_type]
    if set(counts) == {"Cached"}:
        return "COMPLETED", "Cached"
    return "COMPLETED", "Completed"


def _task_name(run_name: str) -> str:
    return re.sub(r"-\d+$", "", run_name)


def _duration(start: float | None, end: float | None, now: float) -> float | None:
    if start is None:
        return None
    return max(0.0, (end if end is not None else now) - start)


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None
