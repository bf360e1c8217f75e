"""Runtime benchmarks, Taskbook side by side with Prefect 3 (when it is installed).

    python bench/runtime.py

Each framework runs in its own fresh process and temporary home, persisting every state
to its default local store (Taskbook: embedded SQLite; Prefect: its local ephemeral
server). Figures are printed as a table; nothing is asserted.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).with_name("_cases.py")
ROWS = [
    ("empty_flow_ms", "empty flow call (median)", "ms", False),
    ("sequential_us_per_task", "1,000 sequential tasks", "µs/task", False),
    ("map_tasks_per_s", ".map() over 10,000 inputs", "tasks/s", True),
    ("cached_rerun_ms", "fully cached re-run, 100 tasks", "ms", False),
]


def measure(name: str) -> dict[str, float] | None:
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
    header = f"{'case':<32}{'taskbook':>14}{'prefect 3':>14}{'ratio':>10}  unit"
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
        print(f"{label:<32}{mine:>14,.1f}{other_text:>14}{ratio:>10}  {unit}")
    print("\nratio: how many times better Taskbook is (speed or throughput).")


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
