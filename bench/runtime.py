"""Runtime benchmarks, Taskbook side by side with Prefect 3 (when it is installed).

    python bench/runtime.py

Each framework runs in its own fresh process and temporary home, persisting every state
to its default local store (Taskbook: embedded SQLite; Prefect: its local ephemeral
server). Figures are printed as a table; nothing is asserted.

A second table puts each of Taskbook's figures next to its floor, measured in the same
process and run (see ``_cases.py``), and its goal.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

CASES = Path(__file__).with_name("_cases.py")
ROWS = [
    ("empty_flow_ms", "empty flow call (median)", "ms", False),
    ("sequential_us_per_task", "1,000 sequential tasks (median of 5)", "µs/task", False),
    ("sequential_first_us_per_task", "1,000 sequential tasks (1st flow)", "µs/task", False),
    ("map_tasks_per_s", ".map() over 10,000 inputs", "tasks/s", True),
    ("cached_rerun_ms", "fully cached re-run, 100 tasks", "ms", False),
]


class FloorRow(NamedTuple):
    """A Taskbook figure next to its floor and its goal."""

    key: str
    label: str
    unit: str
    floor: str | None  # the floor's key; None when the goal is a value of the figure alone
    goal: float
    said: str
    of_floor: bool  # the goal is a ratio to the floor (else a value of the figure)
    higher_is_better: bool = False


FLOOR_ROWS = [
    FloorRow(
        "map_tasks_per_s",
        ".map() over 10,000 inputs",
        "tasks/s",
        "floor_map_tasks_per_s",
        0.5,
        ">= 0.5x the floor",
        of_floor=True,
        higher_is_better=True,
    ),
    FloorRow(
        "sequential_us_per_task",
        "1,000 sequential tasks",
        "µs/task",
        "floor_commit_us",
        0.5,
        "<= 0.5x the floor",
        of_floor=True,
    ),
    FloorRow(
        "cached_rerun_ms",
        "fully cached re-run, 100 tasks",
        "ms",
        "floor_read_results_ms",
        3.0,
        "<= 3 ms",
        of_floor=False,
    ),
    FloorRow("empty_flow_ms", "empty flow call (median)", "ms", None, 0.2, "<= 0.2 ms", False),
    FloorRow("bytes_per_task_run", "SQLite bytes per task run", "B", None, 400, "<= 400 B", False),
]


def measure(name: str) -> dict[str, Any] | None:
    if name == "prefect" and importlib.util.find_spec("prefect") is None:
        return None
    done = subprocess.run(
        [sys.executable, str(CASES), name], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        print(f"[{name}] failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    print(f"Python {platform.python_version()} on {platform.machine()}, {_cpu_count()} cores")
    ours = measure("taskbook")
    theirs = measure("prefect")
    header = f"{'case':<38}{'taskbook':>14}{'prefect 3':>14}{'ratio':>10}  unit"
    print(header)
    print("-" * len(header))
    for key, label, unit, higher_is_better in ROWS:
        mine = ours[key] if ours else float("nan")
        other = theirs[key] if theirs else None
        ratio = (
            ""
            if other is None
            else (f"{(mine / other if higher_is_better else other / mine):.0f}x")
        )
        other_text = "not installed" if theirs is None else f"{other:,.1f}"
        print(f"{label:<38}{mine:>14,.1f}{other_text:>14}{ratio:>10}  {unit}")
    print("\nratio: how many times better Taskbook is (speed or throughput).")
    if ours is not None:
        print()
        print_floors(ours)


def print_floors(ours: dict[str, Any]) -> None:
    """Taskbook's figures next to their floors from the same run, and their goals."""
    header = (
        f"{'figure':<32}{'taskbook':>12}{'floor':>12}  {'unit':<9}"
        f"{'to floor':>9}  {'goal':<19}verdict"
    )
    print(header)
    print("-" * len(header))
    for row in FLOOR_ROWS:
        mine = ours.get(row.key)
        if mine is None:
            continue
        floor = ours.get(row.floor) if row.floor else None
        ratio = None if floor is None else mine / floor
        judged = ratio if row.of_floor else mine
        verdict = "" if judged is None else _verdict(judged, row)
        floor_text = "" if floor is None else _figure(floor)
        ratio_text = "" if ratio is None else f"{ratio:.2f}x"
        print(
            f"{row.label:<32}{_figure(mine):>12}{floor_text:>12}  {row.unit:<9}"
            f"{ratio_text:>9}  {row.said:<19}{verdict}"
        )
    notes = [
        "floors, in the same process: a bare ThreadPoolExecutor of "
        f"{ours['floor_workers']} workers (the default runner's) over the same function and "
        "inputs; one SQLite WAL commit of a one-row INSERT (synchronous=NORMAL); reading "
        f"the {ours['floor_result_files']} result files the cached run persisted."
    ]
    tables = ours.get("bytes_per_task_run_by_table") or {}
    if tables:
        parts = ", ".join(f"{table} {size:,.0f}" for table, size in tables.items())
        notes.append(f"bytes per task run by table (indexes included): {parts}.")
    print()
    for note in notes:
        print(textwrap.fill(note, width=88))


def _figure(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def _verdict(value: float, row: FloorRow) -> str:
    met = value >= row.goal if row.higher_is_better else value <= row.goal
    return "ok" if met else "over"


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
