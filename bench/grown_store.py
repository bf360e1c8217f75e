"""The runtime on a store that has grown: the same cases as ``runtime.py``'s, in a copy of
the store of 1,000,000 task runs that ``_big_store.py`` fills (and keeps), next to a fresh
home in the same run.

    python bench/grown_store.py          # in .venv; the copy is deleted afterwards

A grown store's indexes no longer fit in memory, and a batch's inserts land all over them:
what a task costs there is what a team's store costs after a year. Each figure is the
median of its rounds (sequential flows of 1,000 tasks, cached re-runs of 100 tasks, maps
of 10,000), each home in its own process so one does not warm the other's pages. "Grown"
means past SQLite's own cache (64 MiB): the copy itself sits in the OS's page cache.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _big_store

CASE = """
import gc, json, statistics, time
from kernel_ext import flow, task
from kernel_ext.cache_policies import INPUTS, TASK_SOURCE

@task
def noop(x):
    return x

@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def cached(x):
    return x

@flow
def sequential(n):
    for i in range(n):
        noop(i)

@flow
def mapped(n):
    return len(noop.map(range(n)).result())

@flow
def cached_run(n):
    for i in range(n):
        cached(i)

def median(call, rounds):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)

sequential(100)
cached_run(100)
gc.collect()
print(json.dumps({
    "sequential_us_per_task": median(lambda: sequential(1000), 7) / 1000 * 1e6,
    "cached_rerun_ms": median(lambda: cached_run(100), 7) * 1e3,
    "map_tasks_per_s": 10000 / median(lambda: mapped(10000), 3),
}))
"""
ROWS = [
    ("sequential_us_per_task", "1,000 sequential tasks (median of 7)", "µs/task"),
    ("cached_rerun_ms", "fully cached re-run, 100 tasks (median of 7)", "ms"),
    ("map_tasks_per_s", ".map() over 10,000 inputs (median of 3)", "tasks/s"),
]


def run_case(home: Path) -> dict[str, float]:
    environment = {**_big_store.environment(home, None), "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    # Run from the home, not from here: PYTHONPATH=<another checkout> then times that one.
    done = subprocess.run(
        [sys.executable, "-c", CASE],
        env=environment,
        cwd=home,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"The case failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    source = _big_store.default_home()
    _big_store.fill(source, None)
    work = Path(tempfile.mkdtemp(prefix="taskbook-grown-"))
    try:
        grown = work / "grown"
        shutil.copytree(source, grown)
        fresh = work / "fresh"
        fresh.mkdir()
        results = {"fresh home": run_case(fresh), "1M task runs": run_case(grown)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'case':<46}{'fresh home':>12}{'1M task runs':>14}  unit")
    for key, label, unit in ROWS:
        values = [results[name][key] for name in ("fresh home", "1M task runs")]
        print(f"{label:<46}{values[0]:>12,.1f}{values[1]:>14,.1f}  {unit}")


if __name__ == "__main__":
    main()
