"""What a live RunGraph costs the kernel: a flow mapping 10,000 trivial tasks, timed with
and without a widget following it. A benchmark, not a test:

    python bench/widgets.py [rounds]

Rounds alternate between the two cases so drift (caches, the store's file) hits both;
the medians are compared, in wall time and in this process's CPU time (all threads: the
engine's, the store writer's and the widget's), which other load on the machine disturbs
less. Also prints what one event costs the bus subscriber.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit

from kernel_ext import flow, task
from kernel_ext._events import StateEvent
from kernel_ext._run_records import TaskRun, TaskRunId
from kernel_ext._states import Running
from kernel_ext.testing import taskbook_test_harness
from kernel_ext.widgets import RunGraph

N = 10_000


@task
def inc(x: int) -> int:
    return x + 1


@flow
def mapping(n: int) -> int:
    return len(inc.map(range(n)).result())


def timed(with_widget: bool) -> tuple[float, float, int]:
    pushes = 0
    graph = RunGraph.for_next_flow_run() if with_widget else None
    if graph is not None:

        def count(_change: object) -> None:
            nonlocal pushes
            pushes += 1

        graph.observe(count, names="graph")
    started, cpu = time.perf_counter(), time.process_time()
    mapping(N)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if graph is not None:
        assert graph.graph["final"] and graph.graph["nodes"][0]["count"] == N
        graph.close()
    return elapsed, cpu, pushes


def subscriber_cost() -> tuple[float, float]:
    """Nanoseconds per call: a task run's event, and a bare deque.append for reference."""
    graph = RunGraph.for_flow_run("not-a-run-of-this-process")
    feed = graph._feed
    assert feed is not None
    on_event = feed._subscriber()
    event = StateEvent(TaskRun(TaskRunId("x"), "inc-0", "m.inc", None), Running())
    calls = 1_000_000
    per_event = min(timeit.repeat(lambda: on_event(event), number=calls, repeat=5)) / calls
    feed._events.clear()
    bare = feed._events.append
    per_append = min(timeit.repeat(lambda: bare(event), number=calls, repeat=5)) / calls
    graph.close()
    return per_event * 1e9, per_append * 1e9


def main(rounds: int) -> None:
    with taskbook_test_harness():
        mapping(100)  # warm up: store schema, imports, thread pool
        plain: list[tuple[float, float, int]] = []
        live: list[tuple[float, float, int]] = []
        for _ in range(rounds):
            plain.append(timed(False))
            live.append(timed(True))
        per_event, per_append = subscriber_cost()
    print(f"flow mapping {N:,} trivial tasks, {rounds} rounds each, medians:")
    for label, index in (("wall", 0), ("cpu", 1)):
        base = statistics.median(r[index] for r in plain)
        with_graph = statistics.median(r[index] for r in live)
        print(
            f"  {label:4}  without a widget {base * 1000:7.1f} ms, with a live graph "
            f"{with_graph * 1000:7.1f} ms ({with_graph / base - 1:+.1%})"
        )
    print(f"  pushes per run: {statistics.median(r[2] for r in live):.0f}")
    print(f"  subscriber: {per_event:.0f} ns per event (a bare deque.append: {per_append:.0f} ns)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
