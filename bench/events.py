"""Events and automations: what they cost the writer, and how fast they are evaluated.

    python bench/events.py                 # in .venv; --rounds 5

Each figure is the median of ``--rounds`` rounds in a fresh SQLite home:

- writer: 20,000 task runs of three states each (60,000 history rows, the events of state
  changes) submitted to the store as the engine does, then ``flush()``: states per second
  committed. State-change events are read from these rows, not written again, so this is
  the writer's throughput "with events on"; compare it with a checkout from before events
  (``PYTHONPATH=<that checkout> python bench/events.py --writer-only``).
- emit_event: 20,000 custom events emitted and flushed: microseconds per event.
- evaluation: 20,000 custom events and 60,000 state events written after the automations
  were made; the scheduler's automation step reads and evaluates the 60,000 that may match
  one of 10 automations (threshold, proactive and compound triggers, actions that do
  nothing; the Pending states match none): events evaluated per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

N_TASKS = 20_000
N_EVENTS = 20_000


def _fresh_home() -> None:
    os.environ["TASKBOOK_HOME"] = tempfile.mkdtemp(prefix="bench-events-")
    os.environ.pop("TASKBOOK_STORE_URL", None)
    from kernel_ext.store import reset_store

    reset_store()


def writer_states_per_second(fresh: bool = True) -> float:
    from kernel_ext._events import StateEvent
    from kernel_ext._run_records import FlowRun, TaskRun
    from kernel_ext._states import Completed, Pending, Running
    from kernel_ext.store import get_store

    if fresh:
        _fresh_home()
    store = get_store()
    parent = FlowRun(id=str(uuid.uuid4()), name="bench", flow_name="bench")
    runs = [
        TaskRun(id=str(uuid.uuid4()), name=f"t-{i}", task_key="t", flow_run_id=parent.id)
        for i in range(N_TASKS)
    ]
    store.submit(StateEvent(parent, Running()))
    store.flush()
    began = time.perf_counter()
    for run in runs:
        store.submit(StateEvent(run, Pending()))
        store.submit(StateEvent(run, Running()))
        store.submit(StateEvent(run, Completed()))
    store.flush(timeout=600)
    return 3 * N_TASKS / (time.perf_counter() - began)


def emit_us_per_event() -> float:
    from kernel_ext.events import emit_event
    from kernel_ext.store import get_store

    _fresh_home()
    store = get_store()
    began = time.perf_counter()
    for i in range(N_EVENTS):
        emit_event("bench.item.arrived", {"prefect.resource.id": f"bench.item.{i}"})
    store.flush(timeout=600)
    return (time.perf_counter() - began) / N_EVENTS * 1e6


def _automations() -> list[Any]:
    from datetime import timedelta

    from kernel_ext.automations import (
        Automation,
        CompoundTrigger,
        DoNothing,
        EventTrigger,
    )

    automations = []
    for i in range(4):
        automations.append(
            Automation(
                name=f"threshold-{i}",
                trigger=EventTrigger(expect={"bench.item.arrived"}, threshold=1000, within=60),
                actions=[DoNothing()],
            )
        )
    for i in range(3):
        automations.append(
            Automation(
                name=f"failed-{i}",
                trigger=EventTrigger(expect={"prefect.task-run.Failed"}),
                actions=[DoNothing()],
            )
        )
    for i in range(2):
        automations.append(
            Automation(
                name=f"sla-{i}",
                trigger=EventTrigger(
                    after={"prefect.task-run.Running"},
                    expect={"prefect.task-run.Completed"},
                    for_each={"prefect.resource.id"},
                    posture="Proactive",
                    within=timedelta(minutes=10),
                ),
                actions=[DoNothing()],
            )
        )
    automations.append(
        Automation(
            name="compound",
            trigger=CompoundTrigger(
                require="all",
                within=timedelta(minutes=5),
                triggers=[
                    EventTrigger(expect={"bench.item.arrived"}),
                    EventTrigger(expect={"prefect.task-run.Completed"}),
                ],
            ),
            actions=[DoNothing()],
        )
    )
    return automations


def evaluation_events_per_second() -> float:
    from kernel_ext.events import emit_event
    from kernel_ext.store import get_store
    from papermill_bridge.automations import AutomationRunner

    _fresh_home()
    store = get_store()
    for automation in _automations():
        automation.create()
    runner = AutomationRunner(budget_seconds=3600.0)
    runner.tick()  # the evaluator starts at the end of the streams: what follows is new
    writer_states_per_second(fresh=False)  # 60,000 state events
    for i in range(N_EVENTS):
        emit_event("bench.item.arrived", {"prefect.resource.id": f"bench.item.{i}"})
    store.flush(timeout=600)
    began = time.perf_counter()
    counts = runner.tick()
    took = time.perf_counter() - began
    # Every custom event and the Running and Completed states match a trigger; the
    # Pending states match none and are not read past the store's name filter.
    assert counts["events"] == N_EVENTS + 2 * N_TASKS, counts
    return counts["events"] / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writer-only", action="store_true", help="Only the writer figure.")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"writer_states_per_s": []}
    if not args.writer_only:
        figures.update({"emit_us_per_event": [], "evaluated_events_per_s": []})
    for _ in range(args.rounds):
        figures["writer_states_per_s"].append(writer_states_per_second())
        if not args.writer_only:
            figures["emit_us_per_event"].append(emit_us_per_event())
            figures["evaluated_events_per_s"].append(evaluation_events_per_second())
    medians = {key: round(statistics.median(values), 1) for key, values in figures.items()}
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
