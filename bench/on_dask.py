"""Dask benchmarks: Taskbook's DaskTaskRunner against bare Dask and prefect-dask, and the
peak memory of a 10,000-task map, side by side with Prefect where it is installed.

    python bench/on_dask.py                       # 100,000 tasks (a few minutes on 2 cores)
    BENCH_DASK_TASKS=10000 python bench/on_dask.py

Each framework runs in its own fresh process, temporary home and local cluster of two
single-threaded worker processes. "bare" is ``client.map`` of the same function on the
same cluster as Taskbook, so the ratio is Taskbook's whole overhead: run records, states
written to the embedded SQLite store by the workers, and the flush before the flow ends.
Prefect maps fewer tasks (``BENCH_PREFECT_DASK_TASKS``) so that the run ends today; its
figure is per task, like the others. Nothing is asserted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

TASKS = int(os.environ.get("BENCH_DASK_TASKS", "100000"))
PREFECT_TASKS = int(os.environ.get("BENCH_PREFECT_DASK_TASKS", "2000"))
MEMORY_TASKS = 10_000


def inc(x: int) -> int:
    return x + 1


def _cluster() -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )


def case_dask(tasks: int) -> dict[str, float]:
    """Bare client.map, then Taskbook's map, on one cluster (after a warm-up of each)."""
    os.environ["TASKBOOK_HOME"] = tempfile.mkdtemp(prefix="bench-taskbook-")
    os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
    from distributed import Client, wait

    from kernel_ext import flow, task
    from kernel_ext.dask import DaskTaskRunner

    with _cluster() as cluster, Client(cluster) as client:
        step = task(inc)

        @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        def fan_out(n: int) -> None:
            step.map(range(n)).wait()

        def bare(n: int) -> None:
            futures = client.map(inc, range(n), pure=False)
            wait(futures)
            del futures

        figures = {}
        for name, run in (("bare", bare), ("taskbook", fan_out)):
            run(200)  # warm-up: imports and store creation on the workers
            started = time.perf_counter()
            run(tasks)
            figures[f"{name}_s"] = time.perf_counter() - started
        return figures


def case_prefect_dask(tasks: int) -> dict[str, float]:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="bench-prefect-")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow, task
    from prefect_dask import DaskTaskRunner

    with _cluster() as cluster:
        step = task(inc)

        @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        def fan_out(n: int) -> None:
            for future in step.map(range(n)):
                future.wait()

        fan_out(20)
        started = time.perf_counter()
        fan_out(tasks)
        return {"prefect_s": time.perf_counter() - started}


def case_memory(framework: str) -> dict[str, float]:
    """Peak RSS of a process that maps 10,000 tasks on the default (thread) runner."""
    home = tempfile.mkdtemp(prefix=f"bench-{framework}-")
    if framework == "taskbook":
        os.environ["TASKBOOK_HOME"] = home
        os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
        from kernel_ext import flow, task
    else:
        os.environ["PREFECT_HOME"] = home
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        from prefect import flow, task
    step = task(inc)

    @flow
    def fan_out(n: int) -> int:
        return len(step.map(range(n)).result())

    fan_out(10)
    before = _peak_mb()
    fan_out(MEMORY_TASKS)
    return {"peak_mb": _peak_mb(), "before_mb": before}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(case: str, *args: str) -> dict[str, float] | None:
    done = subprocess.run(
        [sys.executable, __file__, case, *args], capture_output=True, text=True, timeout=7200
    )
    if done.returncode != 0:
        print(f"[{case} {' '.join(args)}] failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    has_prefect = importlib.util.find_spec("prefect_dask") is not None
    print(f"{os.cpu_count()} cores; local cluster: 2 worker processes x 1 thread")
    ours = measure("dask", str(TASKS))
    if ours:
        bare, mine = ours["bare_s"], ours["taskbook_s"]
        print(f"\n.map() of {TASKS:,} trivial tasks on Dask")
        print(f"  bare client.map        {bare:8.1f} s  {TASKS / bare:8,.0f} tasks/s")
        print(
            f"  taskbook DaskTaskRunner{mine:8.1f} s  {TASKS / mine:8,.0f} tasks/s"
            f"  ({mine / bare:.2f}x bare)"
        )
    theirs = measure("prefect_dask", str(PREFECT_TASKS)) if has_prefect else None
    if theirs:
        rate = PREFECT_TASKS / theirs["prefect_s"]
        print(
            f"  prefect-dask ({PREFECT_TASKS:,} tasks){theirs['prefect_s']:7.1f} s  "
            f"{rate:8,.0f} tasks/s"
        )
        if ours:
            print(f"  taskbook / prefect-dask throughput: {TASKS / ours['taskbook_s'] / rate:.0f}x")
    print(f"\nPeak memory of a process mapping {MEMORY_TASKS:,} tasks (thread runner)")
    for framework in ("taskbook", "prefect"):
        if framework == "prefect" and importlib.util.find_spec("prefect") is None:
            print("  prefect                not installed")
            continue
        memory = measure("memory", framework)
        if memory:
            print(
                f"  {framework:<22}{memory['peak_mb']:8.0f} MB peak "
                f"({memory['before_mb']:.0f} MB before the map)"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        case, *rest = sys.argv[1:]
        arg: Any = int(rest[0]) if rest and rest[0].isdigit() else (rest[0] if rest else None)
        print(json.dumps(globals()[f"case_{case}"](arg)))
    else:
        main()
