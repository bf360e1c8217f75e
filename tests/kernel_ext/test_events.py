"""Events: ``emit_event`` with Prefect's signature, and state changes read as Prefect's
``prefect.flow-run.*`` / ``prefect.task-run.*`` events, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import flow, task
from kernel_ext._errors import EventTooLarge
from kernel_ext.events import Event, emit_event, matches


def names(rows: list[Any]) -> list[str]:
    return [row.event.event for row in rows]


def test_emit_event_returns_the_event_and_the_store_keeps_it(store: Any) -> None:
    occurred = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    earlier = Event(event="x", resource={"prefect.resource.id": "x"}, occurred=occurred)
    first = emit_event("warehouse.file.arrived", {"prefect.resource.id": "file.a"})
    emitted = emit_event(
        event="warehouse.file.arrived",
        resource={"prefect.resource.id": "file.b", "prefect.resource.name": "b.csv"},
        occurred=occurred + timedelta(seconds=1),
        related=[{"prefect.resource.id": "bucket.landing", "prefect.resource.role": "bucket"}],
        payload={"path": "s3://landing/b.csv", "rows": 3},
        id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        follows=earlier,
    )
    assert first is not None and emitted is not None
    assert emitted.follows == earlier.id  # set: the two are within five minutes
    store.flush()
    (row,) = [r for r in store.list_events(names=["warehouse.*"]) if r.event.id == emitted.id]
    stored = row.event
    assert stored.resource.id == "file.b" and stored.resource.name == "b.csv"
    assert stored.related[0].role == "bucket"
    assert stored.payload == {"path": "s3://landing/b.csv", "rows": 3}
    assert stored.occurred == occurred + timedelta(seconds=1)
    assert stored.to_json() == emitted.to_json()


def test_a_follows_far_apart_is_dropped_as_prefect_does(store: Any) -> None:
    old = Event(
        event="x",
        resource={"prefect.resource.id": "x"},
        occurred=datetime.now(UTC) - timedelta(hours=1),
    )
    emitted = emit_event("y", {"prefect.resource.id": "y"}, follows=old)
    assert emitted is not None and emitted.follows is None


@pytest.mark.parametrize(
    ("resource", "related", "message"),
    [
        ({}, None, "prefect.resource.id"),
        ({"prefect.resource.id": ""}, None, "prefect.resource.id"),
        ({"prefect.resource.id": "a"}, [{"prefect.resource.id": "b"}], "prefect.resource.role"),
    ],
)
def test_a_bad_event_is_not_emitted_and_says_why_in_one_line(
    store: Any, resource: dict[str, str], related: Any, message: str, caplog: Any
) -> None:
    # As Prefect's emit_event: telemetry never breaks the flow; the reason is logged.
    assert emit_event("bad.event", resource, related=related) is None
    (record,) = [r for r in caplog.records if r.name == "taskbook.events"]
    assert record.levelname == "ERROR" and message in record.getMessage()
    assert "\n" not in record.getMessage()
    store.flush()
    assert store.list_events(names=["bad.*"]) == []


def test_an_event_over_the_size_limit_is_refused(store: Any) -> None:
    with pytest.raises(EventTooLarge, match="too large to emit"):
        emit_event("big", {"prefect.resource.id": "big"}, payload={"blob": "x" * 1_600_000})


def test_inside_a_run_the_runs_flow_and_tags_are_related(store: Any) -> None:
    @task(tags=["etl"])
    def load() -> None:
        emit_event("rows.loaded", {"prefect.resource.id": "table.sales"}, payload={"rows": 5})

    @flow(name="nightly")
    def nightly() -> None:
        load()

    nightly()
    store.flush()
    (row,) = store.list_events(names=["rows.loaded"])
    roles = {related.role: related for related in row.event.related}
    assert set(roles) == {"flow-run", "flow", "task-run", "tag"}
    assert roles["flow"].id == "prefect.flow.nightly"
    assert roles["tag"].id == "prefect.tag.etl"
    (run,) = store.list_flow_runs(limit=1)
    assert roles["flow-run"].id == f"prefect.flow-run.{run['id']}"


def test_state_changes_are_prefect_state_events_in_order(store: Any) -> None:
    @task
    def fails() -> None:
        raise ValueError("boom")

    @flow(name="breaks")
    def breaks() -> None:
        fails()

    with pytest.raises(ValueError):
        breaks()
    store.flush()
    flow_events = list(reversed(store.list_events(names=["prefect.flow-run.*"])))
    assert names(flow_events) == [
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.Failed",
    ]
    failed = flow_events[-1].event
    (run,) = store.list_flow_runs(limit=1)
    assert failed.resource.id == f"prefect.flow-run.{run['id']}"
    assert failed.resource["prefect.state-type"] == "FAILED"
    assert failed.resource["prefect.resource.name"] == run["name"]
    assert failed.payload["intended"] == {"from": "RUNNING", "to": "FAILED"}
    assert failed.resource_in_role["flow"].id == "prefect.flow.breaks"
    task_events = store.list_events(names=["prefect.task-run.Failed"])
    assert len(task_events) == 1
    assert task_events[0].event.resource_in_role["flow-run"].id == failed.resource.id
    # The same row read twice is the same event (what automations key their firings on).
    again = store.list_events(names=["prefect.flow-run.Failed"])[0].event
    assert again.id == failed.id


def test_filters_by_name_pattern_resource_and_time(store: Any) -> None:
    @flow
    def quick() -> int:
        return 1

    quick()
    emit_event("a.one", {"prefect.resource.id": "thing.1"})
    emit_event("a.two", {"prefect.resource.id": "thing.2"})
    store.flush()
    assert set(names(store.list_events(names=["a.*"]))) == {"a.one", "a.two"}
    assert names(store.list_events(names=["a.*", "!a.one"])) == ["a.two"]
    assert names(store.list_events(resource="thing.2")) == ["a.two"]
    (run,) = store.list_flow_runs(limit=1)
    mine = store.list_events(resource=f"prefect.flow-run.{run['id']}")
    assert names(mine)[0] == "prefect.flow-run.Completed" and len(mine) == 3
    assert store.list_events(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(store.list_events(limit=2)) == 2


def test_following_returns_only_what_came_after_the_cursor(store: Any) -> None:
    emit_event("before", {"prefect.resource.id": "x"})
    store.flush()
    cursor = store.event_cursor()
    emit_event("after", {"prefect.resource.id": "x"})

    @flow
    def later() -> None:
        pass

    later()
    store.flush()
    rows, _ = store.events_after(cursor)
    assert "after" in names(rows)
    assert "before" not in names(rows)
    assert names(rows)[-1] == "prefect.flow-run.Completed"  # oldest first


def test_label_matching_follows_prefect() -> None:
    assert matches("prefect.flow-run.*", "prefect.flow-run.Failed")
    assert not matches("prefect.flow-run.*", "prefect.task-run.Failed")
    assert matches("!prefect.task-run.*", "prefect.flow-run.Failed")
    assert matches("exact", "exact") and not matches("exact", "exactly")
    assert not matches("anything", None)


def test_events_survive_in_a_fresh_process(home: Path, store: Any) -> None:
    import subprocess
    import sys

    emit_event("kept", {"prefect.resource.id": "x"})
    store.flush()
    code = (
        "from kernel_ext.store import get_store;"
        "print([r.event.event for r in get_store().list_events(names=['kept'])])"
    )
    import os

    env = {**os.environ, "TASKBOOK_HOME": str(home)}
    if store.shared:
        env["TASKBOOK_STORE_URL"] = store.url
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "['kept']", out.stderr


def test_a_prune_removes_recorded_events_older_than_the_cut(store: Any) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    emit_event("old.one", {"prefect.resource.id": "x"}, occurred=old)
    emit_event("new.one", {"prefect.resource.id": "x"})
    store.flush()
    month = 30 * 86_400.0
    assert store.prune_runs(older_than=month, dry_run=True)["events"] == 1
    assert store.prune_runs(older_than=month)["events"] == 1
    assert names(store.list_events(names=["old.*", "new.*"])) == ["new.one"]
