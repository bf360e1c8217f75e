"""Runtime benchmark cases, written once for both frameworks.

Run as ``python _cases.py taskbook|prefect``: imports that framework's ``flow``/``task``
(with the same names and semantics), runs every case against its default local store in a
fresh temporary home, and prints one JSON object of figures. ``runtime.py`` runs it once
per framework and prints the comparison.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

SEQUENTIAL = 1_000
MAPPED = 10_000
CACHED = 100
EMPTY_CALLS = int(os.environ.get("BENCH_EMPTY_CALLS", "50"))


def framework(name: str) -> tuple[Any, Any, Any]:
    home = tempfile.mkdtemp(prefix=f"bench-{name}-")
    if name == "taskbook":
        os.environ["TASKBOOK_HOME"] = home
        os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
        from kernel_ext import flow, task
        from kernel_ext.cache_policies import INPUTS, TASK_SOURCE
    else:
        os.environ["PREFECT_HOME"] = home
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        from prefect import flow, task
        from prefect.cache_policies import INPUTS, TASK_SOURCE
    return flow, task, INPUTS + TASK_SOURCE


def run_cases(name: str) -> dict[str, float]:
    flow, task, cache_policy = framework(name)

    @task
    def noop(x: int) -> int:
        return x

    @task(cache_policy=cache_policy, persist_result=True)
    def cached(x: int) -> int:
        return x

    @flow
    def empty() -> None:
        return None

    @flow
    def sequential(n: int) -> None:
        for i in range(n):
            noop(i)

    @flow
    def mapped(n: int) -> int:
        return len(noop.map(range(n)).result())

    @flow
    def cached_run(n: int) -> None:
        for i in range(n):
            cached(i)

    empty()  # first call pays for imports, migrations and server start: not measured
    samples = []
    for _ in range(EMPTY_CALLS):
        started = time.perf_counter()
        empty()
        samples.append(time.perf_counter() - started)
    figures = {"empty_flow_ms": statistics.median(samples) * 1e3}

    started = time.perf_counter()
    sequential(SEQUENTIAL)
    figures["sequential_us_per_task"] = (time.perf_counter() - started) / SEQUENTIAL * 1e6

    cached_run(CACHED)  # fills the cache
    started = time.perf_counter()
    cached_run(CACHED)
    figures["cached_rerun_ms"] = (time.perf_counter() - started) * 1e3

    # Last: 10,000 task runs leave Prefect's local server busy (and answering 503, its
    # SQLite file locked) for a while after the flow returns.
    started = time.perf_counter()
    mapped(MAPPED)
    figures["map_tasks_per_s"] = MAPPED / (time.perf_counter() - started)
    return figures


if __name__ == "__main__":
    print(json.dumps(run_cases(sys.argv[1])))
