"""Retention under load: prune a big SQLite store while a flow writes next to it.

Fills a fresh store with ``BENCH_PRUNE_TASK_RUNS`` task runs (1,000,000 by default; bulk
inserts of rows, not flows run), each with two states, in flow runs of ``TASKS_PER_FLOW``;
half of the flow runs ended 40 days ago, half 1 day ago. A writer process runs a flow of
trivial tasks in a loop and reports its time per task; the bench measures it alone, then
while ``prune_runs(30 days)`` removes the old half, and prints rows per second pruned and
the writer's per-task time before and during.

    python bench/prune.py            # BENCH_PRUNE_TASK_RUNS=200000 for a quicker look
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO

TASK_RUNS = int(os.environ.get("BENCH_PRUNE_TASK_RUNS", "1000000"))
TASKS_PER_FLOW = 100
DAY = 86400.0
BEFORE_SECONDS = 8.0

WRITER = """
import json, sys, time
from kernel_ext import flow, task

@task
def noop(i):
    return i

@flow
def writer(n):
    for i in range(n):
        noop(i)

while True:
    began = time.perf_counter()
    writer(200)
    took = time.perf_counter() - began
    print(json.dumps({"at": time.time(), "per_task": took / 200}), flush=True)
"""


def sqlite_epoch(seconds: float) -> float:
    """A time as the store keeps it in SQLite: epoch seconds, to the microsecond."""
    return round(seconds * 1e6) / 1e6


def fill(path: Path) -> float:
    """Bulk-insert the runs with the engine's own row format; returns the seconds taken."""
    began, now = time.perf_counter(), time.time()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    flows = TASK_RUNS // TASKS_PER_FLOW
    for index in range(flows):
        ended = now - (40 if index % 2 == 0 else 1) * DAY
        start, end = sqlite_epoch(ended - 60), sqlite_epoch(ended)
        flow_id = str(uuid.uuid4())
        connection.execute(
            "INSERT INTO flow_runs (id, name, flow_name, state_type, state_name, start_time,"
            " end_time, run_count, created) VALUES (?, ?, 'etl', 'COMPLETED', 'Completed',"
            " ?, ?, 1, ?)",
            (flow_id, f"etl-{index}", start, end, start),
        )
        tasks = [(str(uuid.uuid4()), flow_id, start, end) for _ in range(TASKS_PER_FLOW)]
        connection.executemany(
            "INSERT INTO task_runs (id, name, task_key, flow_run_id, state_type, state_name,"
            " start_time, end_time, run_count, created) VALUES (?, 'load-0', 'load', ?,"
            " 'COMPLETED', 'Completed', ?, ?, 1, ?)",
            [(t, f, s, e, s) for t, f, s, e in tasks],
        )
        connection.executemany(
            "INSERT INTO state_history (run_id, run_kind, type, name, timestamp) VALUES"
            " (?, 'task', ?, ?, ?)",
            [
                row
                for t, _f, s, e in tasks
                for row in ((t, "RUNNING", "Running", s), (t, "COMPLETED", "Completed", e))
            ],
        )
        if index % 100 == 99:
            connection.commit()
    connection.commit()
    connection.close()
    return time.perf_counter() - began


def _collect(stream: IO[str], samples: list[dict[str, float]]) -> None:
    for line in stream:
        samples.append(json.loads(line))


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-prune-"))
    os.environ["TASKBOOK_HOME"] = str(home)
    os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
    url = f"sqlite:///{home / 'taskbook.db'}"
    from kernel_ext.store import Store

    Store(url).close()  # create and migrate
    filled = fill(home / "taskbook.db")
    env = {**os.environ, "TASKBOOK_STORE_URL": url}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True
    )
    samples: list[dict[str, float]] = []
    assert writer.stdout is not None
    reader = threading.Thread(target=_collect, args=(writer.stdout, samples), daemon=True)
    reader.start()
    try:
        time.sleep(BEFORE_SECONDS)
        with Store(url) as store:
            prune_start = time.time()
            report = store.prune_runs(30 * DAY)
            prune_end = time.time()
        time.sleep(2.0)  # the flow that was running at the end reports
    finally:
        writer.kill()
        writer.wait()
    before = [s["per_task"] for s in samples if s["at"] < prune_start][1:]  # skip warm-up
    during = [s["per_task"] for s in samples if prune_start <= s["at"] <= prune_end + 1]
    rows = report["task_runs"] + report["states"] + report["flow_runs"]
    seconds = prune_end - prune_start
    print(
        json.dumps(
            {
                "task_runs_in_store": TASK_RUNS,
                "fill_seconds": round(filled, 1),
                "pruned_flow_runs": report["flow_runs"],
                "pruned_task_runs": report["task_runs"],
                "pruned_rows": rows,
                "prune_seconds": round(seconds, 1),
                "rows_per_second": round(rows / seconds),
                "batches": report["batches"],
                "writer_per_task_before_us": round(statistics.median(before) * 1e6, 1),
                "writer_per_task_during_us": round(statistics.median(during) * 1e6, 1),
                "writer_per_task_during_max_us": round(max(during) * 1e6, 1),
                "writer_flows_during": len(during),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
