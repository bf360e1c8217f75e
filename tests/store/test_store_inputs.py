"""Input requests of paused runs: created once per key, answered once, read by everyone."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from kernel_ext._errors import InputAlreadyAnswered, InputNotFound
from kernel_ext._run_records import new_id
from kernel_ext._states import Paused, Running
from kernel_ext.store import Store
from tests.store.helpers import Runs

FORM = {
    "title": "ReviewInput",
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "note": {"type": "string"}},
    "required": ["approved"],
}


def _request(
    store: Store, flow_run_id: str | None = None, key: str = "review", **fields: Any
) -> dict[str, Any]:
    """A pending request of a new run unless ``flow_run_id`` is given."""
    fields.setdefault("schema", FORM)
    return store.create_input_request(
        id=new_id(), flow_run_id=flow_run_id or new_id(), key=key, **fields
    )


def _utc(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    assert moment.utcoffset() == timedelta(0)
    return moment


def test_a_request_reads_back_as_created(store: Store, runs: Runs) -> None:
    flow = runs.flow("deploy")
    store.submit(runs.move(flow, Paused(message="Waiting for input 'review'")))
    store.flush()
    before = time.time()
    created = store.create_input_request(
        id="req-1",
        flow_run_id=flow.id,
        key="review",
        schema=FORM,
        description="**Check** the plan.",
        timeout_at=before + 3600,
    )

    assert created == store.read_input_request("req-1")
    assert created == store.find_input_request(flow.id, "review")
    assert created["id"] == "req-1"
    assert (created["flow_run_id"], created["key"]) == (flow.id, "review")
    assert created["schema"] == FORM
    assert created["description"] == "**Check** the plan."
    assert created["status"] == "pending"
    for unset in ("answer", "answered_by", "answered_at", "error"):
        assert created[unset] is None
    assert _utc(created["created"]).timestamp() == pytest.approx(before, abs=5)
    assert _utc(created["timeout_at"]).timestamp() == pytest.approx(before + 3600, abs=1e-5)
    assert (created["flow_run_name"], created["flow_name"]) == ("deploy-run", "deploy")
    assert (created["state"], created["state_type"]) == ("Paused", "PAUSED")
    json.dumps(created)


def test_a_plain_pause_has_an_empty_form_and_no_timeout(store: Store) -> None:
    created = _request(store, schema={}, key="resume")
    assert created["schema"] == {}
    assert created["description"] is None
    assert created["timeout_at"] is None
    assert created["flow_run_name"] is None  # the writer has not stored the run yet
    assert created["state"] is None


def test_pausing_again_at_a_key_finds_the_earlier_request(store: Store) -> None:
    first = _request(store, key="review")
    store.answer_input_request(first["id"], {"approved": True}, "alice")

    again = store.create_input_request(
        id=new_id(),
        flow_run_id=first["flow_run_id"],
        key="review",
        schema={"different": "form"},
        description="ignored",
        timeout_at=None,
    )

    assert again["id"] == first["id"]
    assert again["schema"] == FORM
    assert again["status"] == "answered"
    assert again["answer"] == {"approved": True}
    other_key = _request(store, flow_run_id=first["flow_run_id"], key="sign-off")
    assert other_key["id"] != first["id"]
    assert other_key["status"] == "pending"
    other_run = _request(store, key="review")
    assert other_run["id"] != first["id"]


def test_an_answer_is_recorded_with_who_and_when(store: Store) -> None:
    request = _request(store)
    store.record_input_error(request["id"], "approved: field required")
    before = time.time()

    answered = store.answer_input_request(request["id"], {"approved": True, "note": "ok"}, "alice")

    assert answered["status"] == "answered"
    assert answered["answer"] == {"approved": True, "note": "ok"}
    assert answered["answered_by"] == "alice"
    assert _utc(answered["answered_at"]).timestamp() == pytest.approx(before, abs=5)
    assert answered["error"] is None  # the earlier refusal no longer applies
    assert store.read_input_request(request["id"]) == answered
    json.dumps(answered)


def test_an_answered_request_takes_no_other_answer(store: Store) -> None:
    request = _request(store)
    answered = store.answer_input_request(request["id"], {"approved": True}, "alice")

    with pytest.raises(InputAlreadyAnswered, match=r"already answered by alice at \d{4}-"):
        store.answer_input_request(request["id"], {"approved": False}, "bob")
    with pytest.raises(InputAlreadyAnswered, match="already answered by alice"):
        store.reject_input_request(request["id"], "bob", "too late")
    assert store.expire_input_request(request["id"]) == answered
    assert store.record_input_error(request["id"], "bad") == answered
    assert store.read_input_request(request["id"]) == answered


def test_a_rejection_keeps_its_reason_and_ends_the_request(store: Store) -> None:
    request = _request(store)
    rejected = store.reject_input_request(request["id"], "bob", "the plan drops a table")

    assert rejected["status"] == "rejected"
    assert rejected["answered_by"] == "bob"
    assert rejected["answered_at"] is not None
    assert rejected["answer"] == {"reason": "the plan drops a table"}
    with pytest.raises(
        InputAlreadyAnswered, match=r"rejected by bob at .* \(the plan drops a table\)"
    ):
        store.answer_input_request(request["id"], {"approved": True}, "alice")
    plain = store.reject_input_request(_request(store)["id"], "bob", None)
    assert plain["answer"] == {"reason": None}


def test_an_expired_request_says_so_to_late_answers(store: Store) -> None:
    request = _request(store, timeout_at=time.time())
    expired = store.expire_input_request(request["id"])

    assert expired["status"] == "expired"
    assert expired["answered_by"] is None
    assert expired["answer"] is None
    assert expired["answered_at"] is not None
    with pytest.raises(InputAlreadyAnswered, match="expired at .* without an answer"):
        store.answer_input_request(request["id"], {"approved": True}, "alice")
    with pytest.raises(InputAlreadyAnswered, match="expired"):
        store.reject_input_request(request["id"], "bob", None)
    assert store.expire_input_request(request["id"]) == expired


def test_the_message_names_the_run_once_it_is_stored(store: Store, runs: Runs) -> None:
    flow = runs.flow("deploy")
    store.submit(runs.move(flow, Paused()))
    store.flush()
    request = _request(store, flow_run_id=flow.id)
    store.answer_input_request(request["id"], {"approved": True}, "alice")
    with pytest.raises(InputAlreadyAnswered, match="key 'review' of flow run 'deploy-run'"):
        store.answer_input_request(request["id"], {"approved": True}, "bob")


def test_a_refused_answer_is_shown_until_one_is_taken(store: Store) -> None:
    request = _request(store)
    first = store.record_input_error(request["id"], "approved: field required")
    assert (first["status"], first["error"]) == ("pending", "approved: field required")
    second = store.record_input_error(request["id"], "note: not a string")
    assert second["error"] == "note: not a string"
    assert store.list_input_requests()[0]["error"] == "note: not a string"


@pytest.mark.parametrize(
    "call",
    [
        lambda s, i: s.read_input_request(i),
        lambda s, i: s.answer_input_request(i, {}, "alice"),
        lambda s, i: s.reject_input_request(i, "alice", None),
        lambda s, i: s.expire_input_request(i),
        lambda s, i: s.record_input_error(i, "bad"),
    ],
    ids=["read", "answer", "reject", "expire", "record_error"],
)
def test_unknown_ids_raise_input_not_found(store: Store, call: Callable[[Store, str], Any]) -> None:
    with pytest.raises(InputNotFound, match=r"'no-such-request'.*`taskbook approvals ls`"):
        call(store, "no-such-request")


def test_a_missing_request_is_none_when_found_by_run_and_key(store: Store) -> None:
    request = _request(store)
    assert store.find_input_request(request["flow_run_id"], "other-key") is None
    assert store.find_input_request("no-such-run", "review") is None


def test_requests_are_listed_newest_first_with_their_runs(store: Store, runs: Runs) -> None:
    deploy, report = runs.flow("deploy"), runs.flow("report")
    store.submit(runs.move(deploy, Paused()))
    store.submit(runs.move(report, Running()))
    store.flush()
    made = []
    for flow_id, key in ((deploy.id, "a"), (report.id, "b"), (deploy.id, "c"), (report.id, "d")):
        made.append(_request(store, flow_run_id=flow_id, key=key))
        time.sleep(0.002)
    store.answer_input_request(made[1]["id"], {"approved": True}, "alice")
    store.expire_input_request(made[3]["id"])

    def ids(listed: list[dict[str, Any]]) -> list[str]:
        return [r["key"] for r in listed]

    assert ids(store.list_input_requests()) == ["c", "a"]
    assert ids(store.list_input_requests(status=None)) == ["d", "c", "b", "a"]
    assert ids(store.list_input_requests(status="answered")) == ["b"]
    assert ids(store.list_input_requests(status="expired")) == ["d"]
    assert ids(store.list_input_requests(status="rejected")) == []
    assert ids(store.list_input_requests(flow_run_id=report.id, status=None)) == ["d", "b"]
    assert ids(store.list_input_requests(flow_run_id=deploy.id)) == ["c", "a"]
    assert ids(store.list_input_requests(status=None, limit=3)) == ["d", "c", "b"]
    assert store.list_input_requests(limit=0) == []
    listed = store.list_input_requests(status=None)
    assert [(r["flow_name"], r["flow_run_name"], r["state"]) for r in listed] == [
        ("report", "report-run", "Running"),
        ("deploy", "deploy-run", "Paused"),
        ("report", "report-run", "Running"),
        ("deploy", "deploy-run", "Paused"),
    ]
    json.dumps(listed)


def test_an_unknown_status_is_refused_with_the_known_ones(store: Store) -> None:
    with pytest.raises(ValueError, match="'waiting'; use one of pending, answered, rejected"):
        store.list_input_requests(status="waiting")


def test_writes_are_seen_by_another_store_at_once(store: Store) -> None:
    with Store(store.url) as elsewhere:
        request = _request(store)
        assert elsewhere.read_input_request(request["id"])["status"] == "pending"
        elsewhere.answer_input_request(request["id"], {"approved": True}, "alice")
        assert store.read_input_request(request["id"])["answered_by"] == "alice"
        again = _request(elsewhere, flow_run_id=request["flow_run_id"])
        assert again["id"] == request["id"]


def test_racing_answers_from_separate_stores_have_one_winner(store: Store) -> None:
    racers = [Store(store.url) for _ in range(4)]
    try:
        for _ in range(10):
            request = _request(store)
            winners = _race(racers, request["id"])
            assert len(winners) == 1
            final = store.read_input_request(request["id"])
            assert final["answered_by"] == winners[0]
            assert final["answer"] == {"approved": True, "note": winners[0]}
    finally:
        for racer in racers:
            racer.close()


def _race(racers: list[Store], request_id: str) -> list[str]:
    barrier = threading.Barrier(len(racers))
    winners: list[str] = []
    errors: list[BaseException] = []

    def answer(racer: Store, name: str) -> None:
        barrier.wait()
        try:
            racer.answer_input_request(request_id, {"approved": True, "note": name}, name)
        except InputAlreadyAnswered:
            return
        except BaseException as error:
            errors.append(error)
            return
        winners.append(name)

    threads = [
        threading.Thread(target=answer, args=(racer, f"racer-{i}"))
        for i, racer in enumerate(racers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return winners
