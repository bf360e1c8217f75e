"""Automations end to end: real deployment runs executed by a worker, the scheduler
evaluating, Apprise posting to a real HTTP receiver on 127.0.0.1, and on PostgreSQL three
scheduler processes that must notify once per event, one of them killed mid-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.papermill_bridge.test_deployments import home, store, write_notebook
from tests.postgres import new_schema_url
from tests.webhook import Receiver, webhook_receiver

__all__ = ["home"]

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def tick_until(scheduler: Any, done: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        scheduler.tick()
        time.sleep(0.1)


def test_a_failing_deployment_run_notifies_exactly_once(home: Path, receiver: Receiver) -> None:
    from kernel_ext.automations import Automation, EventTrigger, SendNotification
    from papermill_bridge import Scheduler, Worker, promote, start_run

    promote(write_notebook(home, extra="raise ValueError('bad input')"), "broken")
    promote(write_notebook(home, extra="raise ValueError('also bad')"), "other")
    Automation(
        name="broken-runs",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match_related={
                "prefect.resource.role": "deployment",
                "prefect.resource.name": "broken",
            },
        ),
        actions=[
            SendNotification(
                url=receiver.url(),
                subject="{{ flow_run.name }} failed",
                body="{{ deployment.name }}: {{ flow_run.state.message }} {{ run_url }}",
            )
        ],
    ).create()
    scheduler = Scheduler(interval_seconds=0.1)
    scheduler.tick()
    other = start_run("other")
    bad = start_run("broken")
    assert Worker().run_once() and Worker().run_once()
    assert store().read_flow_run(other["id"])["state_type"] == "FAILED"  # not ours: no alert
    tick_until(scheduler, lambda: receiver.bodies())
    for _ in range(5):  # later ticks, and a second scheduler, notify nothing more
        scheduler.tick()
        Scheduler().tick()
    (body,) = receiver.wait_for(1)
    assert body["title"] == f"{bad['name']} failed"
    assert "broken" in body["message"] and "ValueError" in body["message"]
    (firing,) = store().list_firings()
    assert firing["state"] == "done" and firing["attempts"] == 1


def test_an_sla_fires_when_a_run_overruns_and_not_for_one_on_time(
    home: Path, receiver: Receiver
) -> None:
    from kernel_ext.automations import Automation, EventTrigger, SendNotification
    from papermill_bridge import Scheduler, Worker, promote, start_run

    promote(write_notebook(home, extra="import time\ntime.sleep(float(repeat))"), "slow")
    Automation(
        name="slow-sla",
        trigger=EventTrigger(
            after={"prefect.flow-run.Running"},
            expect={"prefect.flow-run.Completed", "prefect.flow-run.Failed"},
            for_each={"prefect.resource.id"},
            posture="Proactive",
            threshold=1,
            within=timedelta(seconds=10),
        ),
        actions=[SendNotification(url=receiver.url(), subject="SLA: {{ flow_run.name }}")],
    ).create()
    scheduler = Scheduler(interval_seconds=0.2)
    scheduler.tick()
    on_time = start_run("slow", {"repeat": 0})
    assert Worker().run_once()
    overrun = start_run("slow", {"repeat": 18})
    stop = threading.Event()

    def schedule() -> None:
        while not stop.is_set():
            scheduler.tick()
            stop.wait(0.2)

    ticking = threading.Thread(target=schedule, daemon=True)
    ticking.start()
    try:
        worker = threading.Thread(target=Worker().run_once, daemon=True)
        worker.start()
        (body,) = receiver.wait_for(1, timeout=25)
        # Fired while the run still runs: the alert is about a run not done in time.
        assert store().read_flow_run(overrun["id"])["state_type"] == "RUNNING"
        assert body["title"] == f"SLA: {overrun['name']}"
        worker.join(60)
    finally:
        stop.set()
        ticking.join(10)
    scheduler.tick()
    assert [b["title"] for b in receiver.bodies()] == [f"SLA: {overrun['name']}"]
    assert on_time["name"] not in str(receiver.bodies())


def test_an_event_from_user_code_starts_a_deployment_with_templated_parameters(
    home: Path,
) -> None:
    from kernel_ext import flow
    from kernel_ext.automations import Automation, EventTrigger, RunDeployment
    from kernel_ext.events import emit_event
    from papermill_bridge import Scheduler, Worker, promote

    promote(write_notebook(home), "ingest")
    Automation(
        name="file-arrived",
        trigger=EventTrigger(expect={"warehouse.file.arrived"}),
        actions=[
            RunDeployment(
                deployment="ingest",
                parameters={"greeting": "{{ event.payload.path }}", "repeat": 1},
            )
        ],
    ).create()
    scheduler = Scheduler(interval_seconds=0.1)
    scheduler.tick()

    @flow(name="watcher")
    def watcher() -> None:
        emit_event(
            "warehouse.file.arrived",
            {"prefect.resource.id": "warehouse.file.sales.csv"},
            payload={"path": "/landing/sales.csv"},
        )

    watcher()
    store().flush()
    tick_until(scheduler, lambda: store().list_runs_of_deployment("ingest"))
    for _ in range(3):
        scheduler.tick()
    (run,) = store().list_runs_of_deployment("ingest")
    assert run["parameters"] == {"greeting": "/landing/sales.csv", "repeat": 1}
    assert Worker().run_once()
    done = store().read_flow_run(run["id"])
    assert done["state_type"] == "COMPLETED"
    assert "/LANDING/SALES.CSV!" in str(store().read_logs(run["id"]))


SCHEDULER = """
import logging
logging.basicConfig(level=logging.WARNING)
from papermill_bridge import Scheduler
from papermill_bridge.automations import AutomationRunner
scheduler = Scheduler(interval_seconds=0.2)
# A short lease, so another scheduler takes over within seconds of a kill.
scheduler.automations = AutomationRunner(lease_seconds=2.0, claim_seconds=5.0)
scheduler.serve()
"""


def leader_pid() -> int | None:
    from sqlalchemy import select

    from kernel_ext.store._tables import automation_evaluator

    with store()._engine.connect() as connection:
        holder = connection.execute(select(automation_evaluator.c.holder)).scalar()
    return None if holder is None else int(holder.split(":")[1])


@pytest.mark.postgres
def test_three_schedulers_on_postgres_notify_once_per_event_across_a_kill(
    postgres_database: str, receiver: Receiver, tmp_path: Path
) -> None:
    from kernel_ext.automations import Automation, EventTrigger, SendNotification
    from kernel_ext.events import emit_event
    from kernel_ext.testing import taskbook_test_harness

    url = new_schema_url(postgres_database)
    env = {**os.environ, "TASKBOOK_HOME": str(tmp_path), "TASKBOOK_STORE_URL": url}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", SCHEDULER], env=env)

    with taskbook_test_harness(store_url=url):
        Automation(
            name="orders",
            trigger=EventTrigger(expect={"order.placed"}),
            actions=[SendNotification(url=receiver.url(), subject="{{ event.resource.id }}")],
        ).create()
        schedulers = [start() for _ in range(3)]
        try:
            deadline = time.monotonic() + 60
            while leader_pid() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # one of them holds the evaluator's lease
            expected: list[str] = []
            for burst in range(3):
                for number in range(10):
                    resource = f"order.{burst}-{number}"
                    emit_event("order.placed", {"prefect.resource.id": resource})
                    expected.append(resource)
                store().flush()
                receiver.wait_for(len(expected), timeout=60)
                if burst == 0:  # the leader dies; the others take over, nothing is lost
                    leader = next(p for p in schedulers if p.pid == leader_pid())
                    leader.send_signal(signal.SIGKILL)
                    leader.wait(10)
                    schedulers[schedulers.index(leader)] = start()
            time.sleep(3)  # a duplicate would have come by now
            titles = [body["title"] for body in receiver.bodies()]
            assert sorted(titles) == sorted(expected)
        finally:
            for process in schedulers:
                process.terminate()
            for process in schedulers:
                process.wait(20)
