"""Runs of deployments: created Scheduled, claimed by workers, beaten, reaped, cancelled;
and the engine's writer leaving what is theirs alone."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import pytest

from kernel_ext._errors import ConfigurationError, RunNotFound, RunStateConflict
from kernel_ext._run_records import FlowRunId, new_id
from kernel_ext._states import Completed, Late, Paused, Running, Scheduled, State, StateType
from kernel_ext.store import Store
from tests.store.helpers import Runs, count_rows, promote, schedule_run

NOW = 1_780_000_000.0  # the tests' clock: claims and heartbeats take the time given

# What a read run has that a listed one has not.
DETAIL_ONLY = ("task_runs", "failure", "task_runs_cursor", "task_runs_complete")


def _epoch(iso: str | None) -> float:
    assert iso is not None
    return datetime.fromisoformat(iso).timestamp()


def _created(run: dict[str, Any] | None) -> dict[str, Any]:
    assert run is not None
    return run


def test_a_scheduled_run_reads_back_as_created(store: Store) -> None:
    deployment = promote(store, "nightly", tags=["etl"])
    run = _created(
        schedule_run(
            store,
            deployment,
            NOW + 60,
            id="run-1",
            name="brave-otter",
            parameters={"day": "2024-05-02"},
            state=Scheduled("Started by hand"),
        )
    )

    record = store.read_flow_run("run-1")
    assert record["failure"] is None  # read alone, a run also says why it failed
    listed = {key: value for key, value in record.items() if key not in DETAIL_ONLY}
    assert run == listed
    assert (record["state"], record["state_type"]) == ("Scheduled", "SCHEDULED")
    assert record["state_message"] == "Started by hand"
    assert (record["name"], record["flow_name"]) == ("brave-otter", "nightly")
    assert record["parameters"] == {"day": "2024-05-02"}
    assert record["tags"] == ["etl"]
    assert record["deployment_id"] == deployment["id"]
    assert record["deployment_name"] == "nightly"
    assert record["deployment_version"] == 1
    assert _epoch(record["scheduled_time"]) == NOW + 60
    assert (record["run_count"], record["start_time"], record["worker_id"]) == (0, None, None)
    (history,) = store.read_history("run-1")
    assert (history["type"], history["name"]) == ("SCHEDULED", "Scheduled")
    assert history["details"] == {"scheduled_time": record["scheduled_time"]}
    json.dumps(record)


def test_a_slot_gets_one_run(store: Store) -> None:
    deployment = promote(store, "nightly")
    spec = {"kind": "cron", "expression": "0 4 * * *", "timezone": "UTC"}
    schedule_id = store.add_schedule("nightly", spec, {})["id"]
    slot = f"{schedule_id}:2026-03-29T04:00:00+00:00"
    first = schedule_run(store, deployment, NOW, schedule_id=schedule_id, slot_key=slot)
    again = schedule_run(store, deployment, NOW, schedule_id=schedule_id, slot_key=slot)

    assert first is not None and first["slot_key"] == slot
    assert first["schedule_id"] == schedule_id
    assert again is None
    assert count_rows(store.url, "flow_runs") == 1
    assert count_rows(store.url, "state_history") == 1
    assert schedule_run(store, deployment, NOW, slot_key=f"{slot}-next") is not None


def test_a_late_run_is_still_scheduled(store: Store) -> None:
    deployment = promote(store, "nightly")
    run = _created(schedule_run(store, deployment, NOW - 600, state=Late()))
    assert (run["state"], run["state_type"]) == ("Late", "SCHEDULED")
    claimed = store.claim_next_run("w1", NOW)
    assert claimed is not None and claimed["id"] == run["id"]


def test_a_run_of_an_unknown_deployment_is_refused(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="No deployment named 'gone'"):
        store.create_scheduled_run(
            id=new_id(),
            deployment_id="gone",
            deployment_version=1,
            name="r",
            flow_name="gone",
            parameters={},
            scheduled_time=NOW,
        )


def test_a_claim_takes_the_oldest_due_run(store: Store) -> None:
    deployment = promote(store, "nightly")
    later = _created(schedule_run(store, deployment, NOW - 10))
    oldest = _created(schedule_run(store, deployment, NOW - 20))
    _created(schedule_run(store, deployment, NOW + 10))  # not due yet

    claimed = store.claim_next_run("worker-a", NOW)
    assert claimed is not None
    assert claimed["id"] == oldest["id"]
    assert (claimed["state"], claimed["state_type"]) == ("Pending", "PENDING")
    assert claimed["state_message"] == "Claimed by worker-a"
    assert claimed["worker_id"] == "worker-a"
    assert _epoch(claimed["heartbeat_at"]) == NOW
    assert claimed["deployment_name"] == "nightly"
    assert [h["name"] for h in store.read_history(oldest["id"])] == ["Scheduled", "Pending"]
    assert _epoch(store.read_history(oldest["id"])[1]["timestamp"]) == NOW

    second = store.claim_next_run("worker-b", NOW)
    assert second is not None and second["id"] == later["id"]
    assert store.claim_next_run("worker-c", NOW) is None
    assert store.claim_next_run("worker-c", NOW + 10) is not None


def test_runs_of_a_paused_deployment_are_not_claimed(store: Store) -> None:
    deployment = promote(store, "nightly")
    _created(schedule_run(store, deployment, NOW - 10))
    store.set_deployment_paused("nightly", True)
    assert store.claim_next_run("w1", NOW) is None
    store.set_deployment_paused("nightly", False)
    assert store.claim_next_run("w1", NOW) is not None


def test_a_deployment_runs_at_most_its_concurrency_limit(store: Store) -> None:
    limited = promote(store, "limited", concurrency_limit=2)
    free = promote(store, "free")
    for i in range(4):
        schedule_run(store, limited, NOW - 100 + i)
    free_run = _created(schedule_run(store, free, NOW - 1))

    first, second, third = (store.claim_next_run(f"w{i}", NOW) for i in range(3))
    assert first is not None and second is not None and third is not None
    assert {first["flow_name"], second["flow_name"]} == {"limited"}
    assert third["id"] == free_run["id"]  # the limited deployment is full: skipped
    assert store.claim_next_run("w4", NOW) is None

    store.set_run_state(first["id"], State(StateType.RUNNING, "Running"))
    assert store.claim_next_run("w4", NOW) is None  # Running still holds its place
    store.set_run_state(first["id"], State(StateType.COMPLETED, "Completed"))
    freed = store.claim_next_run("w4", NOW)
    assert freed is not None and freed["flow_name"] == "limited"
    assert store.claim_next_run("w5", NOW, deployment_limits=False) is not None


def test_a_deployment_limit_is_a_concurrency_limit_with_leased_slots(store: Store) -> None:
    now = time.time()  # real time here: read_limit shows the leases unexpired now
    limited = promote(store, "limited", concurrency_limit=1)
    for i in range(2):
        schedule_run(store, limited, now - 100 + i)
    (limit,) = store.list_limits()
    assert (limit["name"], limit["slots"], limit["used"]) == ("deployment:limited", 1, 0)

    first = store.claim_next_run("w1", now, lease_seconds=10)
    assert first is not None
    (lease,) = store.read_limit("deployment:limited")["leases"]
    assert (lease["id"], lease["holder"]) == (first["id"], "w1")
    assert store.claim_next_run("w2", now + 9) is None  # the slot is leased
    assert store.heartbeat(first["id"], "w1", now + 9, lease_seconds=10)  # renewed to +19
    assert store.claim_next_run("w2", now + 18) is None
    # w1 died: no more beats. Its slot comes back when the lease runs out.
    second = store.claim_next_run("w2", now + 20)
    assert second is not None and second["id"] != first["id"]
    # w1 was only slow: its beat finds its slot taken, so its run must stop.
    assert store.heartbeat(first["id"], "w1", now + 21, lease_seconds=10) is False
    assert store.heartbeat(second["id"], "w2", now + 21, lease_seconds=10) is True


def test_a_run_whose_slot_expired_takes_it_again_if_there_is_room(store: Store) -> None:
    now = time.time()
    limited = promote(store, "limited", concurrency_limit=1)
    schedule_run(store, limited, now - 100)
    run = store.claim_next_run("w1", now, lease_seconds=5)
    assert run is not None
    assert store.heartbeat(run["id"], "w1", now + 30, lease_seconds=60)  # late, but no rival
    (lease,) = store.read_limit("deployment:limited")["leases"]
    assert lease["id"] == run["id"]


def test_a_deployment_limit_follows_the_deployment(store: Store) -> None:
    promote(store, "nightly", concurrency_limit=2)
    assert [(r["name"], r["slots"]) for r in store.list_limits()] == [("deployment:nightly", 2)]
    promote(store, "nightly", concurrency_limit=3)
    assert [r["slots"] for r in store.list_limits()] == [3]
    promote(store, "nightly")  # no limit any more
    assert store.list_limits() == []


def test_heartbeats_and_dead_runs(store: Store) -> None:
    deployment = promote(store, "nightly")
    for _ in range(3):
        schedule_run(store, deployment, NOW - 10)
    beating, silent, finished = (store.claim_next_run(f"w{i}", NOW) for i in range(3))
    assert beating is not None and silent is not None and finished is not None
    store.set_run_state(silent["id"], State(StateType.RUNNING, "Running"))
    store.set_run_state(finished["id"], State(StateType.COMPLETED, "Completed"))

    assert store.heartbeat(beating["id"], "w0", NOW + 50) is True
    assert store.heartbeat(beating["id"], "someone-else", NOW + 50) is False
    assert store.heartbeat(finished["id"], "w2", NOW + 50) is False
    assert store.find_dead_runs(NOW + 20, grace_seconds=30) == []
    dead = store.find_dead_runs(NOW + 60, grace_seconds=30)
    assert [run["id"] for run in dead] == [silent["id"]]
    assert dead[0]["worker_id"] == "w1"

    store.set_run_state(
        silent["id"], State(StateType.CRASHED, "Crashed", "Its worker w1 stopped beating.")
    )
    assert store.find_dead_runs(NOW + 60, grace_seconds=30) == []
    assert store.heartbeat(silent["id"], "w1", NOW + 61) is False


def test_runs_outside_deployments_are_never_dead(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    store.submit(runs.move(flow, Running()))
    store.flush()
    assert store.find_dead_runs(time.time() + 3600, grace_seconds=1) == []


def test_set_run_state_keeps_the_history_and_times(store: Store) -> None:
    deployment = promote(store, "nightly")
    run_id = _created(schedule_run(store, deployment, NOW))["id"]
    store.claim_next_run("w1", NOW)

    running = store.set_run_state(
        run_id, State(StateType.RUNNING, "Running", "on w1", timestamp=NOW + 1)
    )
    assert (running["state"], running["run_count"]) == ("Running", 1)
    assert _epoch(running["start_time"]) == NOW + 1
    failed = store.set_run_state(
        run_id,
        State(
            StateType.FAILED,
            "Failed",
            "Cell 3 raised KeyError: 'day'",
            details={"cell_index": 3, "exception_type": "KeyError"},
            timestamp=NOW + 5,
        ),
    )
    assert failed["state_type"] == "FAILED"
    assert _epoch(failed["end_time"]) == NOW + 5
    assert failed["duration"] == pytest.approx(4)
    history = store.read_history(run_id)
    assert [h["name"] for h in history] == ["Scheduled", "Pending", "Running", "Failed"]
    assert history[-1]["details"] == {"cell_index": 3, "exception_type": "KeyError"}
    assert history[-1]["message"] == "Cell 3 raised KeyError: 'day'"

    again = store.set_run_state(run_id, State(StateType.RUNNING, "Retrying", timestamp=NOW + 10))
    assert (again["run_count"], again["end_time"]) == (2, None)
    assert _epoch(again["start_time"]) == NOW + 1


def test_set_run_state_only_from_guards_a_race(store: Store) -> None:
    deployment = promote(store, "nightly")
    run_id = _created(schedule_run(store, deployment, NOW))["id"]
    store.set_run_state(run_id, State(StateType.COMPLETED, "Completed"))
    kept = store.set_run_state(
        run_id,
        State(StateType.CRASHED, "Crashed"),
        only_from=(StateType.PENDING, StateType.RUNNING),
    )
    assert kept["state"] == "Completed"
    assert [h["name"] for h in store.read_history(run_id)] == ["Scheduled", "Completed"]


def test_set_run_state_refuses_unknown_runs_and_types(store: Store) -> None:
    with pytest.raises(RunNotFound):
        store.set_run_state("nope", State(StateType.CRASHED, "Crashed"))
    with pytest.raises(RunNotFound):
        store.set_output_notebook("nope", "out.ipynb")
    with pytest.raises(RunNotFound):
        store.request_cancel("nope")
    with pytest.raises(RunNotFound) as raised:
        store.read_flow_run("nope")
    assert raised.value.run_id == "nope"  # the error carries what was asked for


def test_output_notebook_is_linked(store: Store) -> None:
    deployment = promote(store, "nightly")
    run_id = _created(schedule_run(store, deployment, NOW))["id"]
    linked = store.set_output_notebook(run_id, "/data/outputs/nightly/run.ipynb")
    assert linked["output_notebook"] == "/data/outputs/nightly/run.ipynb"
    assert store.list_flow_runs()[0]["output_notebook"] == linked["output_notebook"]


def test_cancelling(store: Store) -> None:
    deployment = promote(store, "nightly")
    claimed, waiting, done = (
        _created(schedule_run(store, deployment, NOW + i))["id"] for i in range(3)
    )
    assert _created(store.claim_next_run("w1", NOW + 5))["id"] == claimed
    store.set_run_state(done, State(StateType.COMPLETED, "Completed"))

    cancelling = store.request_cancel(claimed)  # its worker stops it, then says Cancelled
    assert (cancelling["state"], cancelling["state_type"]) == ("Cancelling", "CANCELLING")
    assert cancelling["end_time"] is None
    assert store.request_cancel(claimed)["state"] == "Cancelling"
    cancelled = store.request_cancel(waiting)  # no worker has it: nothing else would finish it
    assert (cancelled["state"], cancelled["state_type"]) == ("Cancelled", "CANCELLED")
    assert cancelled["end_time"] is not None
    with pytest.raises(RunStateConflict, match="already Completed; only a run that has not"):
        store.request_cancel(done)
    assert store.read_flow_run(done)["state"] == "Completed"
    assert store.claim_next_run("w2", NOW + 5) is None
    assert [h["name"] for h in store.read_history(claimed)] == [
        "Scheduled",
        "Pending",
        "Cancelling",
    ]


def test_a_suspended_run_is_cancelled_at_once(store: Store) -> None:
    deployment = promote(store, "nightly")
    run_id = _created(schedule_run(store, deployment, NOW))["id"]
    store.set_run_state(run_id, State(StateType.PAUSED, "Suspended"))
    assert store.request_cancel(run_id)["state"] == "Cancelled"


def test_runs_of_a_deployment_newest_first(store: Store) -> None:
    deployment = promote(store, "nightly")
    other = promote(store, "other")
    ids = [_created(schedule_run(store, deployment, NOW + i))["id"] for i in range(3)]
    schedule_run(store, other, NOW)
    listed = store.list_runs_of_deployment("nightly")
    assert [r["id"] for r in listed] == ids[::-1]
    assert [r["id"] for r in store.list_runs_of_deployment("nightly", limit=1)] == [ids[-1]]


def test_the_engine_keeps_the_deployment_columns_of_its_run(store: Store, runs: Runs) -> None:
    deployment = promote(store, "nightly", tags=["etl"])
    run_id = _created(
        schedule_run(store, deployment, NOW, name="brave-otter", parameters={"day": "d1"})
    )["id"]
    store.claim_next_run("w1", NOW)
    store.set_output_notebook(run_id, "out.ipynb")
    # The kernel attaches to the run, knowing less than the store does about it.
    attached = runs.flow("some-flow", parameters={"day": "other"})
    attached.id = FlowRunId(run_id)
    store.submit(runs.move(attached, Running()))
    store.submit(runs.move(attached, Paused(message="Waiting for input 'review'")))
    store.flush()

    record = store.read_flow_run(run_id)
    assert (record["state"], record["state_message"]) == ("Paused", "Waiting for input 'review'")
    assert record["run_count"] == 1
    assert (record["name"], record["flow_name"]) == ("brave-otter", "nightly")
    assert (record["parameters"], record["tags"]) == ({"day": "d1"}, ["etl"])
    assert record["deployment_id"] == deployment["id"]
    assert record["deployment_version"] == 1
    assert record["worker_id"] == "w1"
    assert _epoch(record["heartbeat_at"]) == NOW
    assert _epoch(record["scheduled_time"]) == NOW
    assert record["output_notebook"] == "out.ipynb"
    assert [h["name"] for h in store.read_history(run_id)] == [
        "Scheduled",
        "Pending",
        "Running",
        "Paused",
    ]


def test_the_engine_still_renames_runs_outside_deployments(store: Store, runs: Runs) -> None:
    flow = runs.flow(parameters={"n": 1})
    store.submit(runs.move(flow, Running()))
    store.flush()
    flow.name, flow.parameters = "renamed", {"n": 2}
    store.submit(runs.move(flow, Completed()))
    store.flush()
    record = store.read_flow_run(flow.id)
    assert (record["name"], record["parameters"]) == ("renamed", {"n": 2})
    assert record["deployment_id"] is None and record["scheduled_time"] is None
