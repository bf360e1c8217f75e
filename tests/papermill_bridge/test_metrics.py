"""Prometheus metrics scraped from live servers: ``taskbook serve --metrics-port`` and
``taskbook worker --metrics-port`` as real processes, and the Jupyter server extension's
``/taskbook/api/metrics`` behind Jupyter's auth, on a store seeded with runs in several
states, a Late run, a busy worker and a limit with a held lease."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Completed, Failed, Late, Pending, Running
from kernel_ext.store import Store, reset_store
from kernel_ext.testing import taskbook_test_harness
from tests.papermill_bridge.test_server_api import TOKEN, conforms, free_port, jupyter_server
from tests.postgres import new_schema_url
from tests.store.helpers import Runs, promote, schedule_run

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'taskbook.db'}"
    return new_schema_url(request.getfixturevalue("postgres_database"))


@pytest.fixture
def seeded(store_url: str) -> Iterator[str]:
    with Store(store_url) as store:
        seed(store)
    yield store_url
    reset_store()


def seed(store: Store) -> None:
    """Runs in several states; figures the tests know in advance."""
    now = time.time()
    nightly = promote(store, "nightly")
    busy = _claimed(store, nightly, "worker-a", now - 300)
    store.set_run_state(busy, Running(timestamp=now - 5))
    done = _claimed(store, nightly, "worker-b", now - 200)
    store.set_run_state(done, Running(timestamp=now - 100))
    store.set_run_state(done, Completed(timestamp=now - 10))  # 90 s
    schedule_run(store, nightly, now - 180, state=Late())
    schedule_run(store, nightly, now - 5)
    schedule_run(store, nightly, now + 3600)  # not due: not in the queue
    store.set_deployment_paused("nightly", True)  # so the served worker leaves them be
    store.heartbeat(busy, "worker-a", now)
    _flows(store, now)
    store.set_limit("db", 3)
    store.take_slots(["db"], 2, "test:1 run", lease_seconds=600)


def _claimed(store: Store, deployment: dict[str, Any], worker: str, due: float) -> FlowRunId:
    schedule_run(store, deployment, due)
    claimed = store.claim_next_run(worker, time.time())
    assert claimed is not None
    return claimed["id"]


def _flows(store: Store, now: float) -> None:
    """A completed flow with three quick task runs and a failed one, a failed flow, and
    a flow that ended two hours ago (outside the window)."""
    runs = Runs()
    etl = runs.flow("etl")
    events = [
        runs.move(etl, Pending(timestamp=now - 50)),
        runs.move(etl, Running(timestamp=now - 50)),
    ]
    for index in range(4):
        work = runs.task(etl, f"step{index}")
        start = now - 49 + index
        end = Failed(timestamp=start + 0.2) if index == 3 else Completed(timestamp=start + 0.005)
        events += [runs.move(work, Running(timestamp=start)), runs.move(work, end)]
    events.append(runs.move(etl, Completed(timestamp=now - 48)))  # 2 s
    broken = runs.flow("report")
    events += [
        runs.move(broken, Running(timestamp=now - 30)),
        runs.move(broken, Failed(timestamp=now - 29)),
    ]
    old = runs.flow("archive")
    events += [
        runs.move(old, Running(timestamp=now - 7300)),
        runs.move(old, Completed(timestamp=now - 7200)),
    ]
    for event in events:
        store.submit(event)
    store.flush()


def check_seeded(samples: Samples) -> None:
    """The figures ``seed`` made, as scraped."""
    assert samples[("taskbook_store_up", ())] == 1
    assert value(samples, "taskbook_flow_runs", state_type="RUNNING", deployment="nightly") == 1
    assert value(samples, "taskbook_flow_runs", state_type="SCHEDULED", deployment="nightly") == 3
    recent = "taskbook_flow_runs_recent"
    assert value(samples, recent, state_type="COMPLETED", deployment="nightly") == 1
    assert value(samples, recent, state_type="COMPLETED", deployment="") == 1  # not the old one
    assert value(samples, recent, state_type="FAILED", deployment="") == 1
    assert value(samples, "taskbook_task_runs_recent", state_type="COMPLETED") == 3
    assert value(samples, "taskbook_task_runs_recent", state_type="FAILED") == 1
    assert value(samples, "taskbook_queue_depth", deployment="nightly") == 2
    assert value(samples, "taskbook_late_runs", deployment="nightly") == 1
    assert 170 < value(samples, "taskbook_queue_oldest_age_seconds", deployment="nightly") < 600
    assert value(samples, "taskbook_worker_runs", worker="worker-a") == 1
    assert value(samples, "taskbook_worker_heartbeat_age_seconds", worker="worker-a") < 30
    assert ("taskbook_worker_runs", (("worker", "worker-b"),)) not in samples  # it is done
    assert value(samples, "taskbook_limit_slots", limit="db") == 3
    assert value(samples, "taskbook_limit_slots_used", limit="db") == 2
    assert value(samples, "taskbook_limit_holders", limit="db") == 1
    check_durations(samples)


def check_durations(samples: Samples) -> None:
    flow = "taskbook_flow_run_duration_seconds_bucket"
    nightly = {"state_type": "COMPLETED", "deployment": "nightly"}
    assert value(samples, flow, le="60.0", **nightly) == 0
    assert value(samples, flow, le="120.0", **nightly) == 1
    assert value(samples, flow, le="+Inf", **nightly) == 1
    etl = {"state_type": "COMPLETED", "deployment": ""}
    assert value(samples, flow, le="1.0", **etl) == 0 and value(samples, flow, le="5.0", **etl) == 1
    task = "taskbook_task_run_duration_seconds_bucket"
    assert value(samples, task, le="0.01", state_type="COMPLETED") == 3
    assert value(samples, task, le="0.001", state_type="COMPLETED") == 0
    assert value(samples, task, le="0.1", state_type="FAILED") == 0
    assert value(samples, task, le="0.5", state_type="FAILED") == 1
    gsum = value(samples, "taskbook_flow_run_duration_seconds_gsum", **nightly)
    assert gsum == pytest.approx(90, abs=0.01)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, timeout: float = 30.0, headers: dict[str, str] | None = None) -> str:
    """The body of ``url`` once it answers (the server may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Content-Type"].startswith("text/plain")
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def taskbook(store_url: str, home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TASKBOOK_STORE_URL": store_url, "TASKBOOK_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "papermill_bridge.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def served(seeded: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = taskbook(seeded, tmp_path, "serve", "--metrics-port", str(port))
    try:
        yield seeded, port
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
        assert f"Metrics at http://127.0.0.1:{port}/metrics" in out, (out, err)


@pytest.mark.slow
def test_taskbook_serve_serves_the_store_metrics(served: tuple[str, int]) -> None:
    _, port = served
    samples = parse(scrape(f"http://127.0.0.1:{port}/metrics"))
    check_seeded(samples)
    assert samples[("taskbook_store_writer_queued_events", ())] == 0
    assert ("process_cpu_seconds_total", ()) in samples  # the serving process's own


@pytest.mark.slow
def test_a_port_in_use_is_one_line_naming_the_option(
    served: tuple[str, int], tmp_path: Path
) -> None:
    store_url, port = served
    scrape(f"http://127.0.0.1:{port}/metrics")
    second = taskbook(store_url, tmp_path, "worker", "--metrics-port", str(port))
    _, err = second.communicate(timeout=60)
    assert second.returncode == 1
    assert err.strip() == (
        f"Error: Port {port} on 127.0.0.1 is in use (another `taskbook serve`?); choose "
        "another with --metrics-port, or stop what listens there."
    )


@pytest.mark.slow
def test_a_worker_serves_them_too(seeded: str, tmp_path: Path) -> None:
    port = free_port()
    process = taskbook(seeded, tmp_path, "worker", "--metrics-port", str(port))
    try:
        samples = parse(scrape(f"http://127.0.0.1:{port}/metrics"))
        assert value(samples, "taskbook_late_runs", deployment="nightly") == 1
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_bad_host_names_its_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill_bridge.cli",
            "serve",
            "--metrics-port",
            "0",
            "--metrics-host",
            "no-such-host.invalid",
        ],
        env={**os.environ, "TASKBOOK_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Cannot listen on 'no-such-host.invalid'")
    assert "--metrics-host" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_store_still_answers(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from papermill_bridge.metrics import StoreCollector

    def unreachable() -> Store:
        raise OSError("no route to the store")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store=unreachable))
    assert parse(generate_latest(registry).decode()) == {("taskbook_store_up", ()): 0.0}


@pytest.mark.slow
def test_the_jupyter_endpoint_needs_the_token(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'taskbook.db'}") as store:
        seed(store)
    reset_store()
    path = "/taskbook/api/metrics"
    for url in jupyter_server(tmp_path):
        samples = parse(scrape(url + path, headers={"Authorization": f"token {TOKEN}"}))
        check_seeded(samples)
        assert ("process_cpu_seconds_total", ()) not in samples  # Jupyter's /metrics has those
        for headers in ({}, {"Authorization": "token wrong"}):
            request = urllib.request.Request(url + path, headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 403
            conforms("GET", path, 403, _json(refused.value.read()))


def _json(body: bytes) -> Any:
    import json

    return json.loads(body or b"null")


def test_openmetrics_keeps_the_gauge_histograms_type(seeded: str) -> None:
    from papermill_bridge.metrics import metrics_registry, render

    with taskbook_test_harness(store_url=seeded):
        body, content_type = render(metrics_registry(), "application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert "# TYPE taskbook_flow_run_duration_seconds gaugehistogram" in text
    assert text.rstrip().endswith("# EOF")


def test_the_public_names_are_pinned() -> None:
    import papermill_bridge.metrics

    assert sorted(papermill_bridge.metrics.__all__) == [
        "MetricsServer",
        "StoreCollector",
        "metrics_registry",
        "render",
        "serve_metrics",
    ]
