"""Deleting a finished run with everything recorded under it; retrying a deployment run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kernel_ext._errors import RunNotFound, RunStateConflict
from kernel_ext._run_records import FlowRunId, new_id
from kernel_ext._states import Completed, Crashed, Failed, Running, State, StateType, Suspended
from kernel_ext.store import Store
from tests.store.helpers import Runs, count_rows, promote, schedule_run


def _write(store: Store, runs: Runs, *pairs: tuple[object, State]) -> None:
    for run, state in pairs:
        store.submit(runs.move(run, state))  # type: ignore[arg-type]
    store.flush()


def test_deleting_a_run_takes_everything_recorded_under_it(
    store: Store, runs: Runs, store_url: str
) -> None:
    flow = runs.flow("etl")
    task = runs.task(flow)
    sub = runs.flow("sub", parent_task_run_id=task.id)
    sub_task = runs.task(sub, "inner")
    kept = runs.flow("other")
    kept_task = runs.task(kept)
    _write(
        store,
        runs,
        *((run, Running()) for run in (flow, task, sub, sub_task, kept, kept_task)),
        *((run, Completed()) for run in (sub_task, sub, task, flow, kept_task, kept)),
    )
    for run in (flow, task, sub_task, kept_task):
        store.submit(runs.log(run, f"from {run.name}"))
    store.submit(runs.result(task, "key-1", "/results/1"))
    store.submit(runs.result(kept_task, "key-2", "/results/2"))
    store.flush()
    store.create_input_request(id=new_id(), flow_run_id=flow.id, key="review", schema={})

    deleted = store.delete_flow_run(flow.id)

    assert deleted["run"]["id"] == flow.id
    assert (deleted["subflows"], deleted["task_runs"], deleted["log_lines"]) == (1, 2, 3)
    assert (deleted["results"], deleted["input_requests"]) == (1, 1)
    assert deleted["states"] == 8  # Running and Completed of four runs
    for run_id in (flow.id, sub.id, task.id, sub_task.id):
        with pytest.raises(RunNotFound):
            store.read_history(run_id)
    assert [r["id"] for r in store.list_flow_runs()] == [kept.id]
    assert [line["message"] for line in store.read_logs(kept.id)] == ["from load-0"]
    assert store.lookup_result("key-2") is not None and store.lookup_result("key-1") is None
    assert count_rows(store_url, "run_inputs") == 0
    with pytest.raises(RunNotFound):
        store.delete_flow_run(flow.id)


def test_a_run_that_has_not_finished_is_not_deleted(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    _write(store, runs, (flow, Running()))
    with pytest.raises(RunStateConflict, match="cancel it") as refused:
        store.delete_flow_run(flow.id)
    assert refused.value.state == "Running"
    assert store.read_flow_run(flow.id)["state"] == "Running"


def _failed_deployment_run(store: Store, message: str) -> tuple[dict[str, Any], FlowRunId]:
    """A deployment and one of its runs, claimed, started and failed."""
    deployment = promote(store)
    run = schedule_run(store, deployment, time.time() - 5)
    assert run is not None
    store.claim_next_run("w1", time.time())
    store.set_run_state(run["id"], Running())
    store.set_run_state(run["id"], Failed(message))
    return deployment, run["id"]


def test_a_failed_deployment_run_is_queued_again_with_its_id(store: Store) -> None:
    _, run_id = _failed_deployment_run(store, "Cell 2 raised KeyError")
    run = {"id": run_id}

    retried = store.retry_flow_run(run["id"])

    assert (retried["state"], retried["state_type"]) == ("AwaitingRetry", StateType.SCHEDULED)
    claimed = store.claim_next_run("w2", time.time() + 1)
    assert claimed is not None and claimed["id"] == run["id"]
    with pytest.raises(RunStateConflict, match="only a run that failed"):
        store.retry_flow_run(run["id"])  # Pending now


def test_a_finished_run_leaves_no_pending_request_and_its_retry_asks_again(
    store: Store,
) -> None:
    deployment = promote(store)
    run = schedule_run(store, deployment, time.time() - 5)
    assert run is not None
    store.claim_next_run("w1", time.time())
    store.set_run_state(run["id"], Running())
    for key in ("answered", "waiting"):
        store.create_input_request(
            id=new_id(),
            flow_run_id=run["id"],
            key=key,
            schema={},
            description=None,
            timeout_at=None,
        )
    answered = store.find_input_request(run["id"], "answered")
    assert answered is not None
    store.answer_input_request(answered["id"], {}, "ana")
    store.set_run_state(run["id"], Suspended("Waiting for 'waiting'"))
    assert [r["key"] for r in store.list_input_requests()] == ["waiting"]

    store.request_cancel(run["id"])  # Cancelled at once: nobody waits on the form now

    assert store.list_input_requests() == []
    assert store.find_input_request(run["id"], "waiting")["status"] == "expired"
    store.retry_flow_run(run["id"])
    assert store.find_input_request(run["id"], "waiting") is None  # asked afresh
    assert store.find_input_request(run["id"], "answered")["status"] == "answered"


def test_a_pending_request_of_a_run_that_finished_elsewhere_is_not_listed(
    store: Store, runs: Runs
) -> None:
    flow = runs.flow()
    _write(store, runs, (flow, Running()))
    store.create_input_request(
        id=new_id(), flow_run_id=flow.id, key="k", schema={}, description=None, timeout_at=None
    )
    assert len(store.list_input_requests()) == 1
    _write(store, runs, (flow, Crashed()))  # through the batch writer, as a kernel writes
    assert store.list_input_requests() == []
    assert len(store.list_input_requests(status=None)) == 1


def test_only_a_deployment_run_that_did_not_complete_is_retried(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    _write(store, runs, (flow, Running()), (flow, Failed()))
    with pytest.raises(RunStateConflict, match="not a deployment's run"):
        store.retry_flow_run(flow.id)
    with pytest.raises(RunNotFound):
        store.retry_flow_run("nope")


def test_a_run_with_many_task_runs_and_subflows_is_deleted_whole(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    tasks = [runs.task(flow, f"t{i}") for i in range(1_200)]  # more than one chunk of ids
    sub = runs.flow("sub", parent_task_run_id=tasks[-1].id)
    _write(store, runs, *((run, Completed()) for run in (*tasks, sub, flow)))
    deleted = store.delete_flow_run(flow.id)
    assert (deleted["task_runs"], deleted["subflows"]) == (1_200, 1)
    assert store.list_flow_runs() == []


def test_a_run_of_a_deleted_deployment_is_not_retried(store: Store) -> None:
    deployment, run_id = _failed_deployment_run(store, "boom")
    run = {"id": run_id}
    store.delete_deployment(deployment["name"])
    with pytest.raises(RunStateConflict, match="deployment that was deleted"):
        store.retry_flow_run(run["id"])
    assert store.read_flow_run(run["id"])["state"] == "Failed"
