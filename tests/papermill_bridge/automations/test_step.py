"""Evaluation steps on a real store: events emitted, a step under the evaluator's lease,
firings in the outbox once each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from kernel_ext import flow
from kernel_ext.automations import Automation, DoNothing, EventTrigger
from kernel_ext.events import Event, emit_event
from papermill_bridge.automations import (
    Bucket,
    bucket_from_row,
    bucket_to_row,
    evaluate_batch,
    event_names,
)


def step(store: Any, holder: str = "scheduler-1") -> Any:
    store.flush()
    return store.evaluate_automations(holder, evaluate_batch, event_names)


def create(trigger: EventTrigger, name: str = "watch") -> Automation:
    return Automation(name=name, trigger=trigger, actions=[DoNothing()]).create()


def file_arrived(path: str, seconds_ago: float = 0) -> Event | None:
    return emit_event(
        "warehouse.file.arrived",
        resource={"prefect.resource.id": f"warehouse.file.{path}"},
        payload={"path": path},
        occurred=datetime.now(UTC) - timedelta(seconds=seconds_ago),
    )


def test_a_custom_event_fires_an_automation_once(store: Any) -> None:
    automation = create(EventTrigger(expect={"warehouse.file.*"}))
    step(store)  # the evaluator starts reading from here
    emitted = file_arrived("sales.csv")
    assert step(store).firings == 1
    assert step(store).firings == 0  # read once
    (firing,) = store.list_firings(str(automation.id))
    assert firing["state"] == "pending"
    assert firing["triggering_event"]["id"] == str(emitted.id)  # type: ignore[union-attr]
    assert firing["firing_key"].endswith(str(emitted.id))  # type: ignore[union-attr]


def test_a_failed_flow_run_fires_an_automation(store: Any) -> None:
    automation = create(
        EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match_related={
                "prefect.resource.id": "prefect.flow.breaks",
                "prefect.resource.role": "flow",
            },
        )
    )
    step(store)

    @flow(name="breaks")
    def breaks() -> None:
        raise ValueError("no")

    breaks(return_state=True)
    assert step(store).firings == 1
    (firing,) = store.list_firings(str(automation.id))
    assert firing["triggering_event"]["event"] == "prefect.flow-run.Failed"


def test_an_sla_fires_for_a_run_that_does_not_complete_in_time(store: Any) -> None:
    automation = create(
        EventTrigger(
            after={"warehouse.file.arrived"},
            expect={"warehouse.file.loaded"},
            for_each={"prefect.resource.id"},
            posture="Proactive",  # type: ignore[arg-type]
            within=timedelta(seconds=10),
        )
    )
    step(store)
    file_arrived("late.csv", seconds_ago=120)
    assert step(store).firings == 1  # its window ended 110 s ago: past the grace
    (firing,) = store.list_firings(str(automation.id))
    labels = firing["firing"]["triggering_labels"]
    assert labels == {"prefect.resource.id": "warehouse.file.late.csv"}
    assert step(store).firings == 0


def test_one_scheduler_evaluates_at_a_time(store: Any) -> None:
    create(EventTrigger(expect={"warehouse.file.*"}))
    assert step(store, "one") is not None
    assert step(store, "two") is None  # "one" holds the lease


def test_event_names_widen_globs_into_prefixes() -> None:
    def record(*expect: str, after: tuple[str, ...] = ()) -> dict[str, Any]:
        trigger = EventTrigger(expect=set(expect), after=set(after))
        return Automation(
            id=uuid.uuid4(), name="x", trigger=trigger, actions=[DoNothing()]
        ).to_record()

    assert event_names(
        [record("prefect.flow-run.Failed", after=("prefect.flow-run.Running",))]
    ) == [
        "prefect.flow-run.Failed",
        "prefect.flow-run.Running",
    ]
    assert event_names([record("prefect.flow-run.*ed")]) == ["prefect.flow-run.*"]
    assert event_names([record("*.Failed")]) == []  # every event
    assert event_names([record("!prefect.flow-run.Running")]) == []
    assert event_names([record()]) == []  # no expect: any event


def test_bucket_rows_round_trip() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    bucket = Bucket(moment, moment + timedelta(seconds=5), 2)
    assert bucket_from_row(bucket_to_row(bucket)) == bucket
    naive = {**bucket_to_row(bucket), "opened": moment.replace(tzinfo=None)}
    assert bucket_from_row(naive).start == moment  # SQLite gives naive UTC back


class _Batch(NamedTuple):
    automations: list[dict[str, Any]]
    events: list[Any]
    buckets: dict[Any, Any]
    now: datetime
    caught_up: bool = True


def test_an_automation_that_no_longer_validates_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = Automation(id=uuid.uuid4(), name="good", trigger=EventTrigger(), actions=[DoNothing()])
    bad = {**good.to_record(), "id": str(uuid.uuid4()), "name": "bad", "actions": [{"type": "?"}]}

    class Read(NamedTuple):
        stream: str
        position: int
        event: Event

    read = Read("event", 1, Event(event="x", resource={"prefect.resource.id": "r"}))
    outcome = evaluate_batch(_Batch([bad, good.to_record()], [read], {}, datetime.now(UTC)))
    assert [f["automation_id"] for f in outcome.firings] == [str(good.id)]
    assert "'bad' is not valid" in caplog.text
