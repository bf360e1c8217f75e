"""Deployments: promoted into versions, read, listed, paused, deleted; and their schedules."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime

import pytest

from kernel_ext._errors import ConfigurationError
from kernel_ext._run_records import new_id
from kernel_ext._states import Running, Scheduled, State, StateType, Suspended
from kernel_ext.store import Store
from tests.store.helpers import PARAMETERS, count_rows, notebook, promote, schedule_run

CRON = {"kind": "cron", "expression": "0 6 * * *", "timezone": "Europe/Paris"}


def test_a_first_promotion_creates_version_one(store: Store) -> None:
    created = promote(
        store,
        "nightly",
        tags=["etl"],
        description="The nightly report.",
        concurrency_limit=2,
        retries=1,
    )

    assert created["name"] == "nightly"
    assert created["unchanged"] is False
    assert created["version"]["version"] == 1
    assert created["version"]["deployment_id"] == created["id"]
    assert created["version"]["parameters"] == PARAMETERS
    assert created["version"]["notebook_path"] == "/projects/nightly.ipynb"
    assert "notebook" not in created["version"]
    assert (created["tags"], created["description"]) == (["etl"], "The nightly report.")
    assert (created["concurrency_limit"], created["retries"]) == (2, 1)
    assert created["paused"] is False
    assert datetime.fromisoformat(created["created"]).tzinfo is not None
    json.dumps(created)


def test_a_changed_notebook_adds_a_version_and_an_unchanged_one_does_not(store: Store) -> None:
    first = promote(store, "nightly", "x = 1")
    same = promote(store, "nightly", "x = 1")
    second = promote(store, "nightly", "x = 2")

    assert same["unchanged"] is True
    assert same["version"] == first["version"]
    assert second["unchanged"] is False
    assert second["version"]["version"] == 2
    assert second["id"] == first["id"]
    deployment = store.read_deployment("nightly")
    assert deployment["version"] == 2
    assert [v["version"] for v in deployment["versions"]] == [2, 1]
    assert all("notebook" not in v for v in deployment["versions"])
    assert count_rows(store.url, "deployment_versions") == 2


def test_promoting_again_replaces_the_settings_but_not_paused(store: Store) -> None:
    promote(store, "nightly", tags=["a"], concurrency_limit=1)
    store.set_deployment_paused("nightly", True)
    again = promote(store, "nightly", tags=["b"], concurrency_limit=None, retries=3)

    assert again["unchanged"] is True
    assert (again["tags"], again["concurrency_limit"], again["retries"]) == (["b"], None, 3)
    assert again["paused"] is True


def test_a_version_reads_back_with_its_notebook(store: Store) -> None:
    promote(store, "nightly", "x = 1")
    promote(store, "nightly", "x = 2")

    latest = store.read_deployment_version("nightly")
    first = store.read_deployment_version("nightly", 1)
    assert latest["version"] == 2
    assert json.loads(latest["notebook"]) == json.loads(notebook("x = 2"))
    assert first["notebook"] == notebook("x = 1")  # verbatim, as promoted
    assert first["notebook_sha256"] == hashlib.sha256(first["notebook"].encode()).hexdigest()
    assert first["deployment_name"] == "nightly"
    with pytest.raises(ConfigurationError, match="has no version 7"):
        store.read_deployment_version("nightly", 7)


def test_a_notebook_given_as_a_dict_is_stored_as_json(store: Store) -> None:
    content = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    store.create_deployment_version(
        name="empty",
        notebook_path="empty.ipynb",
        notebook=content,
        notebook_sha256="0" * 64,
        parameters=[],
    )
    assert json.loads(store.read_deployment_version("empty")["notebook"]) == content


def test_a_deployment_is_found_by_name_or_id(store: Store) -> None:
    created = promote(store, "nightly")
    assert store.read_deployment(created["id"])["name"] == "nightly"
    assert store.read_deployment_version(created["id"])["version"] == 1


def test_an_unknown_deployment_says_how_to_list_them(store: Store) -> None:
    for call in (
        lambda: store.read_deployment("nope"),
        lambda: store.read_deployment_version("nope"),
        lambda: store.set_deployment_paused("nope", True),
        lambda: store.delete_deployment("nope"),
        lambda: store.add_schedule("nope", CRON, {}),
        lambda: store.list_runs_of_deployment("nope"),
    ):
        with pytest.raises(ConfigurationError, match="No deployment named 'nope'") as caught:
            call()
        assert "taskbook deployments ls" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"concurrency_limit": 0}, "never let a run start"),
        ({"retries": -1}, "negative"),
    ],
)
def test_invalid_settings_are_refused(store: Store, settings: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        promote(store, "nightly", **settings)
    assert store.list_deployments() == []


def test_concurrent_promotions_number_versions_without_gaps(store: Store) -> None:
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def promote_one(i: int) -> None:
        barrier.wait()
        try:
            promote(store, "shared", f"x = {i}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=promote_one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [v["version"] for v in store.read_deployment("shared")["versions"]] == [6, 5, 4, 3, 2, 1]
    assert count_rows(store.url, "deployments") == 1


def test_list_deployments_with_versions_schedules_and_runs(store: Store) -> None:
    nightly = promote(store, "nightly", "x = 1")
    promote(store, "nightly", "x = 2")
    hourly = promote(store, "hourly")
    store.add_schedule("nightly", CRON, {"day": "today"})
    now = time.time()
    done = schedule_run(store, nightly, now - 7200)
    later = schedule_run(store, nightly, now - 3600)
    assert done is not None and later is not None
    store.set_run_state(done["id"], State(StateType.COMPLETED, "Completed"))
    store.set_run_state(later["id"], State(StateType.FAILED, "Failed"))
    schedule_run(store, nightly, now + 60)
    schedule_run(store, nightly, now + 120)

    listed = {d["name"]: d for d in store.list_deployments()}
    assert list(listed) == ["hourly", "nightly"]
    assert listed["nightly"]["version"] == 2
    assert [s["spec"] for s in listed["nightly"]["schedules"]] == [CRON]
    assert listed["nightly"]["last_run_id"] == later["id"]
    assert listed["nightly"]["last_run_state"] == "Failed"
    assert listed["nightly"]["last_run_time"] == later["scheduled_time"]
    next_run = datetime.fromisoformat(listed["nightly"]["next_run_time"])
    assert next_run.timestamp() == pytest.approx(now + 60, abs=1e-3)
    assert listed["hourly"]["id"] == hourly["id"]
    assert listed["hourly"]["schedules"] == []
    assert listed["hourly"]["last_run_state"] is None
    assert listed["hourly"]["next_run_time"] is None
    json.dumps(listed)


def test_pausing_and_resuming(store: Store) -> None:
    promote(store, "nightly")
    store.add_schedule("nightly", CRON, {})
    assert store.set_deployment_paused("nightly", True)["paused"] is True
    assert store.read_deployment("nightly")["paused"] is True
    assert store.list_schedules()[0]["deployment_paused"] is True
    assert store.set_deployment_paused("nightly", False)["paused"] is False


def test_deleting_keeps_the_runs_that_started(store: Store) -> None:
    deployment = promote(store, "nightly")
    store.add_schedule("nightly", CRON, {})
    started = schedule_run(store, deployment, time.time() - 10)
    waiting = schedule_run(store, deployment, time.time() + 3600)
    assert started is not None and waiting is not None
    assert store.claim_next_run("w1", time.time()) is not None

    deleted = store.delete_deployment("nightly")
    assert deleted["name"] == "nightly"
    assert deleted["deleted_runs"] == 1
    assert store.list_deployments() == []
    assert store.list_schedules(active_only=False) == []
    assert count_rows(store.url, "deployment_versions") == 0
    kept = store.read_flow_run(started["id"])
    assert (kept["state"], kept["deployment_name"]) == ("Pending", None)
    assert [r["id"] for r in store.list_flow_runs()] == [started["id"]]
    with pytest.raises(LookupError):
        store.read_history(waiting["id"])
    promote(store, "nightly")  # the name is free again
    assert store.read_deployment("nightly")["version"] == 1


def test_deleting_cancels_the_started_runs_that_wait_to_go_on(store: Store) -> None:
    deployment = promote(store, "nightly")
    retrying, suspended = (schedule_run(store, deployment, time.time() - 10) for _ in range(2))
    assert retrying is not None and suspended is not None
    for _ in (retrying, suspended):
        claimed = store.claim_next_run("w1", time.time())
        assert claimed is not None
        store.set_run_state(claimed["id"], Running())
    store.set_run_state(retrying["id"], Scheduled("Retrying", name="AwaitingRetry"))
    store.set_run_state(suspended["id"], Suspended("Waiting"))
    store.create_input_request(
        id=new_id(),
        flow_run_id=suspended["id"],
        key="review",
        schema={},
        description=None,
        timeout_at=None,
    )

    assert store.delete_deployment("nightly")["deleted_runs"] == 0
    for run in (retrying, suspended):
        kept = store.read_flow_run(run["id"])
        assert (kept["state"], kept["deployment_name"]) == ("Cancelled", None)
        assert kept["state_message"] == "Its deployment 'nightly' was deleted."
    assert store.list_input_requests(status="pending") == []
    assert store.find_input_request(suspended["id"], "review")["status"] == "expired"


def test_a_slot_of_a_schedule_removed_meanwhile_makes_no_run(store: Store) -> None:
    deployment = promote(store, "nightly")
    schedule = store.add_schedule("nightly", CRON, {})
    store.replace_schedules("nightly", [])  # after the scheduler read the schedule
    slot = time.time()
    made = schedule_run(
        store, deployment, slot, schedule_id=schedule["id"], slot_key=f"{schedule['id']}:{slot}"
    )
    assert made is None
    assert store.list_flow_runs() == []


def test_schedules_are_added_listed_and_switched(store: Store) -> None:
    deployment = promote(store, "nightly")
    interval = {"kind": "interval", "seconds": 900}
    cron = store.add_schedule("nightly", CRON, {"day": "today"})
    every = store.add_schedule(deployment["id"], interval, {}, catchup="all")

    assert cron["deployment_id"] == deployment["id"]
    assert cron["deployment_name"] == "nightly"
    assert (cron["spec"], cron["parameters"]) == (CRON, {"day": "today"})
    assert (cron["active"], cron["catchup"], cron["last_slot"]) == (True, "latest", None)
    assert every["catchup"] == "all"
    assert [s["id"] for s in store.list_schedules()] == [cron["id"], every["id"]]
    assert [s["id"] for s in store.read_deployment("nightly")["schedules"]] == [
        cron["id"],
        every["id"],
    ]

    assert store.set_schedule_active(cron["id"], False)["active"] is False
    assert [s["id"] for s in store.list_schedules()] == [every["id"]]
    assert len(store.list_schedules(active_only=False)) == 2
    assert len(store.read_deployment("nightly")["schedules"]) == 2  # inactive ones too
    json.dumps(store.list_schedules())


def test_a_schedule_advances_only_forward(store: Store) -> None:
    promote(store, "nightly")
    schedule = store.add_schedule("nightly", CRON, {})
    slot = datetime(2026, 3, 29, 4, 0, tzinfo=UTC).timestamp()

    advanced = store.advance_schedule(schedule["id"], slot)
    assert datetime.fromisoformat(advanced["last_slot"]).timestamp() == slot
    back = store.advance_schedule(schedule["id"], slot - 86400)
    assert back["last_slot"] == advanced["last_slot"]
    later = store.advance_schedule(schedule["id"], slot + 86400)["last_slot"]
    assert datetime.fromisoformat(later).timestamp() == slot + 86400


def test_an_unknown_schedule_or_catchup_is_refused(store: Store) -> None:
    promote(store, "nightly")
    with pytest.raises(ConfigurationError, match="No schedule has the id 'nope'"):
        store.set_schedule_active("nope", False)
    with pytest.raises(ConfigurationError, match="No schedule has the id 'nope'"):
        store.advance_schedule("nope", time.time())
    with pytest.raises(ConfigurationError, match="catch-up policy"):
        store.add_schedule("nightly", CRON, {}, catchup="")


INTERVAL = {"kind": "interval", "every_seconds": 900, "anchor": "2001-01-01T00:00:00+00:00"}


def _entry(spec: dict[str, object], **fields: object) -> dict[str, object]:
    return {"spec": spec, "parameters": {}, "active": True, "catchup": "latest", **fields}


def test_replacing_schedules_keeps_the_unchanged_ones_and_their_last_slot(store: Store) -> None:
    deployment = promote(store, "nightly")
    kept = store.add_schedule("nightly", CRON, {"day": "today"})
    slot = datetime(2026, 3, 29, 4, 0, tzinfo=UTC).timestamp()
    store.advance_schedule(kept["id"], slot)
    gone = store.add_schedule("nightly", INTERVAL, {})
    waiting = schedule_run(store, deployment, time.time() - 60, schedule_id=gone["id"])
    late = schedule_run(store, deployment, time.time() - 30, schedule_id=gone["id"])
    started = schedule_run(store, deployment, time.time() - 90, schedule_id=gone["id"])
    mine = schedule_run(store, deployment, time.time() - 60, schedule_id=kept["id"])
    by_hand = schedule_run(store, deployment, time.time() - 60)
    assert waiting and late and started and mine and by_hand
    store.set_run_state(late["id"], State(StateType.SCHEDULED, "Late"))
    claimed = store.claim_next_run("w1", time.time())
    assert claimed is not None and claimed["id"] == started["id"]  # the oldest due

    hourly = {**INTERVAL, "every_seconds": 3600}
    replaced = store.replace_schedules(
        "nightly",
        [
            _entry(hourly, catchup="all"),
            _entry(CRON, parameters={"day": "today"}, active=False, catchup="all"),
        ],
    )

    assert (replaced["kept"], replaced["added"], replaced["removed"]) == (1, 1, 1)
    assert replaced["deleted_runs"] == 2  # the Scheduled and the Late one, never claimed
    first, second = replaced["schedules"]
    assert first["id"] == kept["id"]  # oldest first
    assert (first["active"], first["catchup"]) == (False, "all")
    assert datetime.fromisoformat(first["last_slot"] or "").timestamp() == slot
    assert (second["spec"], second["last_slot"], second["catchup"]) == (hourly, None, "all")
    assert datetime.fromisoformat(second["created"] or "").timestamp() == pytest.approx(
        time.time(), abs=60
    )
    assert store.read_deployment("nightly")["schedules"] == replaced["schedules"]
    for run in (waiting, late):
        with pytest.raises(LookupError):
            store.read_history(run["id"])
        with pytest.raises(LookupError):
            store.read_flow_run(run["id"])
    assert store.read_flow_run(started["id"])["state"] == "Pending"  # claimed: it stays
    assert store.read_flow_run(mine["id"])["schedule_id"] == kept["id"]
    assert store.read_flow_run(by_hand["id"])["state"] == "Scheduled"  # no schedule's run
    json.dumps(replaced)


def test_replacing_with_nothing_removes_every_schedule(store: Store) -> None:
    promote(store, "nightly")
    store.add_schedule("nightly", CRON, {})
    store.add_schedule("nightly", INTERVAL, {})
    replaced = store.replace_schedules("nightly", [])
    assert replaced == {"schedules": [], "kept": 0, "added": 0, "removed": 2, "deleted_runs": 0}
    assert store.list_schedules(active_only=False) == []


def test_changed_parameters_make_a_new_schedule(store: Store) -> None:
    promote(store, "nightly")
    old = store.add_schedule("nightly", CRON, {"day": "today"})
    replaced = store.replace_schedules("nightly", [_entry(CRON, parameters={"day": "tomorrow"})])
    (new,) = replaced["schedules"]
    assert new["id"] != old["id"] and new["parameters"] == {"day": "tomorrow"}
    assert (replaced["kept"], replaced["added"], replaced["removed"]) == (0, 1, 1)


def test_a_bad_entry_changes_nothing(store: Store) -> None:
    promote(store, "nightly")
    before = store.add_schedule("nightly", CRON, {})
    with pytest.raises(ConfigurationError, match="^schedule 2: The catch-up policy ''"):
        store.replace_schedules("nightly", [_entry(INTERVAL), _entry(CRON, catchup="")])
    with pytest.raises(ConfigurationError, match="^schedule 1: active must be True or False"):
        store.replace_schedules("nightly", [_entry(CRON, active="yes")])
    with pytest.raises(ConfigurationError, match="No deployment named 'nope'"):
        store.replace_schedules("nope", [])
    assert store.list_schedules(active_only=False) == [before]
