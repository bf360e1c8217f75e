"""Whole processes racing: workers claiming the same due runs, schedulers creating the same
slot. Each process opens its own store before the start, so the race is the calls alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from typing import Any

from sqlalchemy import text

from kernel_ext.store import Store
from kernel_ext.store._claims import claim_next_run
from kernel_ext.store._engine import create_store_engine, write_engine
from tests.store.helpers import count_rows, promote, schedule_run

CLAIM_ALL = textwrap.dedent(
    """
    import json, sys, time
    from kernel_ext.store import Store

    url, worker, start_at, now = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    with Store(url) as store:
        time.sleep(max(0.0, start_at - time.time()))
        claimed = []
        while (run := store.claim_next_run(worker, now)) is not None:
            claimed.append(run["id"])
    print(json.dumps(claimed))
    """
)

CREATE_SLOT = textwrap.dedent(
    """
    import sys, time, uuid
    from kernel_ext.store import Store

    url, deployment_id, slot, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    schedule_id = slot.split(":")[0]
    with Store(url) as store:
        time.sleep(max(0.0, start_at - time.time()))
        run = store.create_scheduled_run(
            id=str(uuid.uuid4()), deployment_id=deployment_id, deployment_version=1,
            name="slot-run", flow_name="nightly", parameters={}, scheduled_time=time.time(),
            schedule_id=schedule_id, slot_key=slot,
        )
    print("lost" if run is None else "won " + run["id"])
    """
)


def _run_all(scripts: list[list[str]]) -> list[str]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", *script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in scripts
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        assert stderr == ""
        outputs.append(stdout.strip())
    return outputs


def test_four_workers_claim_each_of_200_runs_exactly_once(store_url: str) -> None:
    now = time.time()
    with Store(store_url) as store:
        deployment = promote(store, "nightly")
        ids = set()
        for i in range(200):
            run = schedule_run(store, deployment, now - 200 + i)
            assert run is not None
            ids.add(run["id"])
    start_at = time.time() + 2.0
    workers = [f"worker-{i}" for i in range(4)]
    outputs = _run_all(
        [[CLAIM_ALL, store_url, worker, str(start_at), str(now)] for worker in workers]
    )

    claims = {worker: json.loads(output) for worker, output in zip(workers, outputs, strict=True)}
    every_claim = [run_id for claimed in claims.values() for run_id in claimed]
    assert len(every_claim) == 200
    assert set(every_claim) == ids  # none twice, none missed
    with Store(store_url) as store:
        held = {r["id"]: r for r in store.list_flow_runs(limit=300)}
    assert Counter(r["state"] for r in held.values()) == {"Pending": 200}
    for worker, claimed in claims.items():
        assert all(held[run_id]["worker_id"] == worker for run_id in claimed)
    assert count_rows(store_url, "state_history") == 400


def test_racing_workers_respect_the_concurrency_limit(store_url: str) -> None:
    now = time.time()
    with Store(store_url) as store:
        deployment = promote(store, "limited", concurrency_limit=3)
        for i in range(40):
            schedule_run(store, deployment, now - 100 + i)
    start_at = time.time() + 2.0
    outputs = _run_all(
        [[CLAIM_ALL, store_url, f"worker-{i}", str(start_at), str(now)] for i in range(4)]
    )
    assert sum(len(json.loads(output)) for output in outputs) == 3
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        query = "SELECT count(*) FROM flow_runs WHERE state_type = 'PENDING'"
        pending = connection.scalar(text(query))
    engine.dispose()
    assert pending == 3


def test_schedulers_racing_for_one_slot_create_one_run(store_url: str) -> None:
    with Store(store_url) as store:
        deployment = promote(store, "nightly")
        spec = {"kind": "cron", "expression": "0 4 * * *", "timezone": "UTC"}
        schedule = store.add_schedule("nightly", spec, {})
    slot = f"{schedule['id']}:2026-03-29T04:00:00+00:00"
    start_at = time.time() + 2.0
    outputs = _run_all(
        [[CREATE_SLOT, store_url, deployment["id"], slot, str(start_at)] for _ in range(4)]
    )
    winners = [output for output in outputs if output.startswith("won")]
    assert len(winners) == 1, outputs
    assert sorted(outputs)[:3] == ["lost"] * 3
    assert count_rows(store_url, "flow_runs") == 1
    assert count_rows(store_url, "state_history") == 1
    with Store(store_url) as store:
        (run,) = store.list_runs_of_deployment("nightly")
    assert winners == [f"won {run['id']}"]
    assert run["slot_key"] == slot


def test_a_claim_waits_for_a_concurrent_claim_of_the_last_place(store: Store) -> None:
    """Two claims in flight for a deployment with one free place: the second waits for the
    first to commit, counts again, and takes nothing (no lost update of the count)."""
    now = time.time()
    deployment = promote(store, "limited", concurrency_limit=1)
    for i in range(2):
        schedule_run(store, deployment, now - 10 + i)
    engine = write_engine(create_store_engine(store.url))
    second: list[dict[str, Any] | None] = []
    with engine.connect() as first_connection, first_connection.begin():
        first = claim_next_run(first_connection, "worker-a", now, deployment_limits=True)
        assert first is not None  # claimed, not committed yet

        def claim_second() -> None:
            with engine.connect() as connection, connection.begin():
                second.append(claim_next_run(connection, "worker-b", now, True))

        thread = threading.Thread(target=claim_second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the first transaction
    thread.join(timeout=30)
    engine.dispose()
    assert second == [None]
    assert [r["worker_id"] for r in store.list_runs_of_deployment("limited")] == [None, "worker-a"]
