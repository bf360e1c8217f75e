"""One Prometheus scrape of a big store, and what tracing costs the engine per task.

    python bench/metrics_scrape.py                    # SQLite in a temporary home
    python bench/metrics_scrape.py --url postgresql+psycopg://postgres@127.0.0.1/bench
    python bench/metrics_scrape.py --flows 10000      # a smaller store

1. Fills a store with ``--flows`` flow runs (as the engine writes them: state events
   through the batched writer) of one task run each, spread over 30 days, with the last
   hour's share ended lately, a tenth failed, and a few hundred deployment runs due or
   Late; then times ``--rounds`` scrapes of the collector (p50 and max).
2. Runs 1,000 sequential tasks in a flow, with tracing off and on (spans to a batch span
   processor with an exporter that drops them, so only Taskbook's and the SDK's own work
   is counted), in fresh processes, and prints the per-task cost of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = 86_400.0


def fill(url: str, flows: int) -> None:
    from kernel_ext._events import StateEvent
    from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun, TaskRunId, new_id
    from kernel_ext._states import Completed, Failed, Pending, Running
    from kernel_ext.store import Store

    now = time.time()
    with Store(url) as store:
        for index in range(flows):
            ended = now - (index / flows) * 30 * DAY  # newest first: the last hour's share
            start = ended - 5.0
            failed = index % 10 == 0
            flow = FlowRun(FlowRunId(new_id()), f"run-{index}", "etl", created=start)
            work = TaskRun(TaskRunId(new_id()), "step-0", "bench.step", flow.id, created=start)
            for run, end in ((work, ended - 1.0), (flow, ended)):
                run.start_time, run.end_time, run.run_count = start, end, 1
                final = Failed(timestamp=end) if failed else Completed(timestamp=end)
                for state in (Pending(timestamp=start), Running(timestamp=start), final):
                    run.state = state
                    store.submit(StateEvent(run, state))
            if index % 20_000 == 0:
                store.flush(timeout=None)
        store.flush(timeout=None)
        _deployment_runs(store, now)


def _deployment_runs(store: object, now: float) -> None:
    import hashlib

    from kernel_ext._run_records import FlowRunId, new_id
    from kernel_ext._states import Late
    from kernel_ext.store import Store

    assert isinstance(store, Store)
    text = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    deployment = store.create_deployment_version(
        name="nightly",
        notebook_path="/bench/nightly.ipynb",
        notebook=text,
        notebook_sha256=hashlib.sha256(text.encode()).hexdigest(),
        parameters=[],
    )
    for index in range(300):
        store.create_scheduled_run(
            id=FlowRunId(new_id()),
            deployment_id=deployment["id"],
            deployment_version=deployment["version"]["version"],
            name=f"due-{index}",
            flow_name="nightly",
            parameters={},
            scheduled_time=now - index,
            state=Late() if index % 3 == 0 else None,
        )


def analyze(url: str) -> None:
    """On PostgreSQL, gather the planner's statistics, as autovacuum does within a minute
    of such a fill: without them it reads whole tables instead of the indexes."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def scrape(url: str, rounds: int) -> list[float]:
    from prometheus_client import generate_latest

    from papermill_bridge.metrics import metrics_registry

    os.environ["TASKBOOK_STORE_URL"] = url
    registry = metrics_registry()
    generate_latest(registry)  # the store opens here
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        generate_latest(registry)
        timings.append(time.perf_counter() - started)
    return timings


PER_TASK = """
import json, sys, time
from kernel_ext import flow, task, tracing
if sys.argv[1] == "on":
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    tracing.enable(provider)

@task
def step(x):
    return x

@flow
def sequential(n):
    for i in range(n):
        step(i)

sequential(10)
tracing.flush()
returned = flushed = float("inf")
for _ in range(3):
    started = time.perf_counter()
    sequential(1000)
    middle = time.perf_counter()
    tracing.flush()
    returned = min(returned, (middle - started) / 1000)
    flushed = min(flushed, (time.perf_counter() - started) / 1000)
print(json.dumps([returned * 1e6, flushed * 1e6]))
"""


def per_task(mode: str) -> list[float]:
    """Microseconds per task until the flow returns, and until its spans are made too."""
    with tempfile.TemporaryDirectory(prefix="taskbook-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TASKBOOK_"))}
        env["TASKBOOK_HOME"] = home
        done = subprocess.run(
            [sys.executable, "-c", PER_TASK, mode], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        figures: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a store URL (default: SQLite in a temporary home)")
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskbook-bench-") as home:
        os.environ["TASKBOOK_HOME"] = home
        url = args.url or f"sqlite:///{Path(home) / 'taskbook.db'}"
        started = time.perf_counter()
        fill(url, args.flows)
        print(f"filled {args.flows:,} flow runs in {time.perf_counter() - started:.0f} s")
        analyze(url)
        timings = scrape(url, args.rounds)
        print(
            f"scrape: p50 {statistics.median(timings) * 1000:.1f} ms, "
            f"max {max(timings) * 1000:.1f} ms over {args.rounds}"
        )
    off, on = per_task("off"), per_task("on")
    print(
        f"1,000 sequential tasks: {off[0]:.1f} µs/task untraced; traced, {on[0]:.1f} µs/task "
        f"until the flow returns, {on[1]:.1f} µs/task until its spans are made"
    )


if __name__ == "__main__":
    main()
