"""From task runs to the graph the browser draws: mapped runs grouped, edges deduplicated.

A flow that maps a task over 10,000 items has 10,000 task runs; drawing them would stall
the browser and say nothing. Runs of one task with no edges between them (the runs of a
``.map()``, or of a loop of ``.submit()`` calls) become one node ``name xN  done/total``
once there are more than ``GROUP_ABOVE`` of them. Runs of one task that feed each other (a
chain) stay separate unless the graph would still exceed ``MAX_NODES``.

The functions read the engine's live ``TaskRun`` objects directly (no copy per redraw:
a live graph is rebuilt 4 times a second); runs read from the store become ``TaskRun``
objects too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun, TaskRunId
from kernel_ext._states import FINAL_TYPES, State, StateType
from kernel_ext.widgets._contract import FlowRunSummary, GraphNode, GraphPayload

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunRecord, TaskRunRecord

__all__ = [
    "GROUP_ABOVE",
    "MAX_NODES",
    "build_payload",
    "flow_summary",
    "group_nodes",
    "payload_from_store",
    "task_run_of_record",
]

GROUP_ABOVE = 20
MAX_NODES = 500
_MEMBERS_SHOWN = 10
_PENDING = State(StateType.PENDING)
_BAD = (StateType.FAILED, StateType.CRASHED)
# While some runs are unfinished, the group shows the liveliest state among them.
_LIVE_ORDER = (
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.CANCELLING,
    StateType.SCHEDULED,
    StateType.PENDING,
)


def task_run_of_record(record: TaskRunRecord) -> TaskRun:
    """A task run record of the store's reads (``read_flow_run()["task_runs"]``)."""
    state = State(
        StateType(record["state_type"] or "PENDING"),
        record["state"] or None,
        record.get("state_message"),
    )
    return TaskRun(
        TaskRunId(record["id"]),
        record["name"],
        record["task_key"],
        record.get("flow_run_id") or None,
        upstream=list(record.get("upstream") or ()),
        state=state,
        start_time=_epoch(record.get("start_time")),
        end_time=_epoch(record.get("end_time")),
        run_count=record.get("run_count") or 0,
    )


def flow_summary(run: FlowRun | FlowRunRecord, now: float) -> FlowRunSummary:
    if isinstance(run, FlowRun):
        state = run.state
        return {
            "id": run.id,
            "name": run.name,
            "flow_name": run.flow_name,
            "state": state.name if state else "Pending",
            "state_type": state.type.value if state else "PENDING",
            "message": state.message if state else None,
            "duration": _duration(run.start_time, run.end_time, now),
        }
    return {
        "id": run["id"],
        "name": run["name"],
        "flow_name": run["flow_name"],
        "state": run["state"],
        "state_type": run["state_type"],
        "message": run.get("state_message"),
        "duration": run.get("duration"),
    }


def build_payload(
    run: FlowRunSummary | None, runs: Sequence[TaskRun], now: float, final: bool
) -> GraphPayload:
    nodes, edges, hidden = group_nodes(runs, now)
    return {
        "run": run,
        "nodes": nodes,
        "edges": edges,
        "task_runs": len(runs),
        "hidden": hidden,
        "final": final,
    }


def group_nodes(
    runs: Sequence[TaskRun], now: float
) -> tuple[list[GraphNode], list[tuple[str, str]], int]:
    """The nodes (in creation order), the edges between them, and how many were cut."""
    groups: dict[str, list[TaskRun]] = {}
    for run in runs:
        members = groups.get(run.task_key)
        if members is None:
            groups[run.task_key] = [run]
        else:
            members.append(run)
    big = {key for key, members in groups.items() if len(members) > GROUP_ABOVE}
    key_of: dict[str, str] = {run.id: run.task_key for run in runs}
    linked = [run for run in runs if run.upstream]  # most runs of a map have no edges
    collapse = big - _chained(linked, big, key_of)
    if _node_count(groups, collapse) > MAX_NODES:
        collapse = big
    group_ids = {key: f"group:{key}" for key in collapse}
    nodes: list[GraphNode] = []
    for run in runs:
        group_id = group_ids.get(run.task_key)
        if group_id is None:
            nodes.append(_run_node(run, now))
        elif groups[run.task_key][0] is run:
            nodes.append(_group_node(group_id, groups[run.task_key], now))
    hidden = max(0, len(nodes) - MAX_NODES)
    nodes = nodes[:MAX_NODES]
    shown = {node["id"] for node in nodes}
    return nodes, _edges(linked, key_of, group_ids, shown), hidden


def _chained(linked: Iterable[TaskRun], keys: set[str], key_of: dict[str, str]) -> set[str]:
    """The task keys among ``keys`` whose runs feed runs of the same task."""
    return {
        run.task_key
        for run in linked
        if run.task_key in keys and any(key_of.get(up) == run.task_key for up in run.upstream)
    }


def _node_count(groups: dict[str, list[TaskRun]], collapse: set[str]) -> int:
    return sum(1 if key in collapse else len(members) for key, members in groups.items())


def _edges(
    linked: Iterable[TaskRun],
    key_of: dict[str, str],
    group_ids: dict[str, str],
    shown: set[str],
) -> list[tuple[str, str]]:
    edges: dict[tuple[str, str], None] = {}  # an ordered set: stable layouts
    for run in linked:
        target = group_ids.get(run.task_key, run.id)
        if target not in shown:
            continue
        for upstream in run.upstream:
            key = key_of.get(upstream)
            if key is None:
                continue  # a run outside this flow run
            source = group_ids.get(key, upstream)
            if source != target and source in shown:
                edges[(source, target)] = None
    return list(edges)


def _run_node(run: TaskRun, now: float) -> GraphNode:
    state = run.state or _PENDING
    return {
        "id": run.id,
        "kind": "run",
        "name": run.name,
        "task_key": run.task_key,
        "state": state.name,
        "state_type": state.type.value,
        "message": state.message,
        "duration": _duration(run.start_time, run.end_time, now),
        "run_count": run.run_count,
        "count": 1,
        "done": int(state.type in FINAL_TYPES),
        "counts": {state.name: 1},
        "members": [],
    }


def _group_node(group_id: str, members: list[TaskRun], now: float) -> GraphNode:
    counts: dict[str, int] = {}
    kinds: dict[str, StateType] = {}  # state name -> state type
    failed: list[str] = []
    for run in members:  # one pass: a group can have 10,000 members, redrawn 4 times a second
        state = run.state or _PENDING
        seen = counts.get(state.name)
        if seen is None:
            counts[state.name] = 1
            kinds[state.name] = state.type
        else:
            counts[state.name] = seen + 1
        if state.type in _BAD and len(failed) < _MEMBERS_SHOWN:
            failed.append(run.id)
    state_type, state_name = _group_state(kinds)
    done = sum(counts[name] for name, kind in kinds.items() if kind in FINAL_TYPES)
    starts = [run.start_time for run in members if run.start_time is not None]
    ends = [run.end_time for run in members if run.end_time is not None]
    end = max(ends) if ends and done == len(members) else None
    shown = failed + [run.id for run in members[:_MEMBERS_SHOWN] if run.id not in failed]
    return {
        "id": group_id,
        "kind": "group",
        "name": _task_name(members[0].name),
        "task_key": members[0].task_key,
        "state": state_name,
        "state_type": state_type.value,
        "message": None,
        "duration": _duration(min(starts), end, now) if starts else None,
        "run_count": max(run.run_count for run in members),
        "count": len(members),
        "done": done,
        "counts": counts,
        "members": shown[:_MEMBERS_SHOWN],
    }


def _group_state(kinds: dict[str, StateType]) -> tuple[StateType, str]:
    """The (type, name) a group shows: live while unfinished, else its worst outcome."""
    for state_type in (*_LIVE_ORDER, *_BAD, StateType.CANCELLED):
        for name, kind in kinds.items():
            if kind is state_type:
                return state_type, name
    if set(kinds) == {"Cached"}:
        return StateType.COMPLETED, "Cached"
    return StateType.COMPLETED, "Completed"


def _task_name(run_name: str) -> str:
    return re.sub(r"-\d+$", "", run_name)


def _duration(start: float | None, end: float | None, now: float) -> float | None:
    if start is None:
        return None
    return max(0.0, (end if end is not None else now) - start)


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def payload_from_store(flow_run_id: str) -> tuple[GraphPayload, list[TaskRun]]:
    """The graph of a flow run as the store has it now (``RunNotFound`` if unknown).

    Plain data, no widget: the notebook widget and the server's REST API both draw it.
    """
    import time

    from kernel_ext.store import get_store

    store = get_store()
    store.flush()
    record = store.read_flow_run(FlowRunId(flow_run_id))
    task_runs = [task_run_of_record(task_run) for task_run in record["task_runs"]]
    now = time.time()
    final = record["state_type"] in {t.value for t in FINAL_TYPES}
    return build_payload(flow_summary(record, now), task_runs, now, final), task_runs
