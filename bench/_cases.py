"""Runtime benchmark cases, written once for both frameworks.

Run as ``python _cases.py taskbook|prefect``: imports that framework's ``flow``/``task``
(with the same names and semantics), runs every case against its default local store in a
fresh temporary home, and prints one JSON object of figures. ``runtime.py`` runs it once
per framework and prints the comparison.

For Taskbook it then measures, in the same process, each figure's floor and what a run
costs the store:

- a bare ``ThreadPoolExecutor`` of the default task runner's worker count, submitting the
  same trivial function over the same 10,000 inputs and taking each result (median of
  ``FLOOR_ROUNDS``), the floor of ``.map()``;
- one SQLite commit of a one-row INSERT (WAL, ``synchronous=NORMAL``, as the store opens
  its file) in a file in a new temporary folder (median of ``COMMITS``), the floor of a
  sequential task;
- reading the result files the cached case persisted (median of ``FLOOR_ROUNDS``), the
  floor of the cached re-run;
- the SQLite file's bytes that a flow of ``BYTES_TASKS`` sequential trivial tasks adds
  (every table and index, the flow run's own rows too), divided by its task runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SEQUENTIAL = 1_000
SEQUENTIAL_ROUNDS = 5
MAPPED = 10_000
CACHED = 100
EMPTY_CALLS = int(os.environ.get("BENCH_EMPTY_CALLS", "50"))
FLOOR_ROUNDS = 5
COMMITS = 2_000
BYTES_TASKS = 5_000


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


def run_cases(name: str) -> dict[str, Any]:
    flow, task, cache_policy = framework(name)
    ours = name == "taskbook"

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

    # The median of several flows: one of them may pay for the interpreter's first full
    # garbage collection of everything imported, whichever case happens to be running.
    samples = []
    for _ in range(SEQUENTIAL_ROUNDS):
        started = time.perf_counter()
        sequential(SEQUENTIAL)
        samples.append(time.perf_counter() - started)
    figures["sequential_us_per_task"] = statistics.median(samples) / SEQUENTIAL * 1e6
    figures["sequential_first_us_per_task"] = samples[0] / SEQUENTIAL * 1e6

    persisted = result_files() if ours else set()
    cached_run(CACHED)  # fills the cache
    persisted = result_files() - persisted if ours else set()
    started = time.perf_counter()
    cached_run(CACHED)
    figures["cached_rerun_ms"] = (time.perf_counter() - started) * 1e3

    # Last: 10,000 task runs leave Prefect's local server busy (and answering 503, its
    # SQLite file locked) for a while after the flow returns.
    started = time.perf_counter()
    mapped(MAPPED)
    figures["map_tasks_per_s"] = MAPPED / (time.perf_counter() - started)
    if ours:
        figures.update(floors(noop.fn, persisted))
        figures.update(store_bytes(sequential))
    return figures


def floors(function: Callable[[int], int], persisted: set[Path]) -> dict[str, float]:
    """The floors of the runtime figures, measured in this process."""
    from kernel_ext import ThreadPoolTaskRunner
    from kernel_ext.store import get_store

    get_store().flush(timeout=None)  # the map's writes do not compete with the floors
    workers = ThreadPoolTaskRunner().max_workers  # the default runner's
    return {
        "floor_workers": workers,
        "floor_map_tasks_per_s": bare_executor(function, workers),
        "floor_commit_us": wal_commit(),
        "floor_read_results_ms": read_files(sorted(persisted)),
        "floor_result_files": len(persisted),
    }


def bare_executor(function: Callable[[int], int], workers: int) -> float:
    """Tasks a second of a bare executor: submit over every input, then each result."""
    samples = []
    for _ in range(FLOOR_ROUNDS):
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(function, i) for i in range(MAPPED)]
            for future in futures:
                future.result()
        samples.append(time.perf_counter() - started)
    return MAPPED / statistics.median(samples)


def wal_commit() -> float:
    """Microseconds of one commit of a one-row INSERT, as the store opens SQLite."""
    folder = tempfile.mkdtemp(prefix="bench-commit-")
    connection = sqlite3.connect(os.path.join(folder, "floor.db"), isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, value INTEGER)")
        samples = []
        for i in range(COMMITS):
            started = time.perf_counter()
            connection.execute("BEGIN")
            connection.execute("INSERT INTO floor (value) VALUES (?)", (i,))
            connection.execute("COMMIT")
            samples.append(time.perf_counter() - started)
    finally:
        connection.close()
        shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(samples) * 1e6


def result_files() -> set[Path]:
    """The files in Taskbook's results folder (a local one, as in a fresh home)."""
    from kernel_ext import _settings

    folder = Path(_settings.results_url())
    return set(folder.iterdir()) if folder.is_dir() else set()


def read_files(paths: list[Path]) -> float:
    """Milliseconds to open and read each of ``paths`` whole (the page cache is warm)."""
    samples = []
    for _ in range(FLOOR_ROUNDS):
        started = time.perf_counter()
        for path in paths:
            with open(path, "rb") as handle:
                handle.read()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e3


def store_bytes(sequential: Callable[[int], None]) -> dict[str, Any]:
    """SQLite bytes a flow of ``BYTES_TASKS`` trivial tasks adds, per task run: in all,
    and by table (each with its indexes). Empty when the store is not SQLite."""
    from sqlalchemy.engine import make_url

    from kernel_ext.store import get_store

    store = get_store()
    url = make_url(store.url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return {}
    store.flush(timeout=None)  # what the cases before wrote is in the file
    before = sqlite_bytes(url.database)
    sequential(BYTES_TASKS)
    store.flush(timeout=None)
    after = sqlite_bytes(url.database)
    tables = {
        table: (size - before.get(table, 0)) / BYTES_TASKS
        for table, size in after.items()
        if size != before.get(table, 0)
    }
    return {
        "bytes_per_task_run": (sum(after.values()) - sum(before.values())) / BYTES_TASKS,
        "bytes_per_task_run_by_table": dict(sorted(tables.items(), key=lambda kv: -kv[1])),
    }


def sqlite_bytes(path: str) -> dict[str, int]:
    """Bytes of each table of the SQLite file (its indexes included), from ``dbstat``,
    after a checkpoint has moved the write-ahead log into the file."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = connection.execute(
            "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat AS d "
            "LEFT JOIN sqlite_master AS m ON m.name = d.name GROUP BY 1"
        ).fetchall()
    finally:
        connection.close()
    return {str(table): int(size) for table, size in rows}


if __name__ == "__main__":
    print(json.dumps(run_cases(sys.argv[1])))
