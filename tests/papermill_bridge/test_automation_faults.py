"""Automations and events off the happy path: ids never given twice on SQLite, an
automation made (or resumed) later ignores what came before, a firing whose second action
fails sends its first once, readers of events neither skip nor freeze."""

from __future__ import annotations

from pathlib import Path

from kernel_ext.events import emit_event
from tests.papermill_bridge.test_deployments import home, store, write_notebook
from tests.webhook import webhook_receiver

__all__ = ["home"]


def test_ids_are_not_given_twice_after_the_newest_rows_are_deleted(home: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from kernel_ext import flow

    @flow
    def once() -> None:
        pass

    once()
    emit_event("old", {"prefect.resource.id": "x"}, occurred=datetime.now(UTC) - timedelta(days=9))
    store().flush()
    (first_run,) = store().list_flow_runs(limit=1)
    high_state, high_event = store().event_cursor()
    store().delete_flow_run(first_run["id"])  # its history rows were the newest
    assert store().prune_runs(older_than=86_400.0)["events"] == 1
    once()
    emit_event("new", {"prefect.resource.id": "x"})
    store().flush()
    rows, _ = store().events_after((high_state, high_event))
    assert {row.event.event for row in rows} >= {"new", "prefect.flow-run.Completed"}


def test_an_automation_reacts_only_to_what_came_after_it_was_made_or_resumed(
    home: Path,
) -> None:
    from kernel_ext.automations import Automation, DoNothing, EventTrigger
    from papermill_bridge import Scheduler

    before = Scheduler()
    before.tick()  # an evaluator that has run before, then stopped
    assert before.automations is not None
    before.automations.stop()
    for number in range(3):
        emit_event("order.placed", {"prefect.resource.id": f"order.{number}"})
    store().flush()
    automation = Automation(
        name="orders", trigger=EventTrigger(expect={"order.placed"}), actions=[DoNothing()]
    ).create()
    scheduler = Scheduler()
    assert scheduler.tick()["fired"] == 0  # the three came before it
    emit_event("order.placed", {"prefect.resource.id": "order.after"})
    store().flush()
    assert scheduler.tick()["fired"] == 1
    automation.pause()
    emit_event("order.placed", {"prefect.resource.id": "order.while-paused"})
    store().flush()
    assert scheduler.tick()["fired"] == 0
    automation.resume()
    assert scheduler.tick()["fired"] == 0  # what came while it was paused stays out
    emit_event("order.placed", {"prefect.resource.id": "order.resumed"})
    store().flush()
    assert scheduler.tick()["fired"] == 1


def test_a_failing_second_action_does_not_resend_the_first(home: Path) -> None:
    from kernel_ext.automations import Automation, EventTrigger, RunDeployment, SendNotification
    from papermill_bridge import Scheduler, promote

    promote(write_notebook(home), "ingest")
    with webhook_receiver() as receiver:
        Automation(
            name="two-actions",
            trigger=EventTrigger(expect={"file.arrived"}),
            actions=[
                SendNotification(url=receiver.url(), subject="arrived"),
                RunDeployment(  # its parameter is no JSON: this action fails every time
                    deployment="ingest",
                    parameters={"greeting": {"__prefect_kind": "json", "value": "{{ 'no' }}"}},
                ),
            ],
        ).create()
        scheduler = Scheduler()
        scheduler.tick()
        assert scheduler.automations is not None
        scheduler.automations.retry_seconds = 0.0
        emit_event("file.arrived", {"prefect.resource.id": "file.a"})
        store().flush()
        for _ in range(5):
            scheduler.tick()
        (firing,) = store().list_firings()
        assert firing["state"] == "failed" and firing["attempts"] == 3
        assert "JSONDecodeError" in (firing["error"] or "")
        assert [r["ok"] for r in firing["results"] or []] == [True, False]
        assert [body["title"] for body in receiver.bodies()] == ["arrived"]


def test_following_with_a_filter_does_not_freeze_behind_filtered_rows(home: Path) -> None:
    from kernel_ext import flow, task

    cursor = store().event_cursor()

    @task
    def step(number: int) -> int:
        return number

    @flow(name="many")
    def many() -> None:
        for number in range(40):
            step(number)

    many()
    store().flush()
    seen: list[str] = []
    for _ in range(20):  # 120 task-run rows behind each flow-run row, read 10 at a time
        rows, cursor = store().events_after(cursor, resource="prefect.flow-run.*", limit=10)
        seen += [row.event.event for row in rows]
    assert seen == [
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.Completed",
    ]
    names: list[str] = []
    cursor = (0, 0)
    for _ in range(30):  # every event once, however small the pages
        rows, cursor = store().events_after(cursor, limit=7)
        names += [row.event.event for row in rows]
    assert len(names) == 3 + 3 * 40


def test_since_reads_only_the_recent_history(home: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from kernel_ext import flow

    @flow
    def quick() -> None:
        pass

    quick()
    store().flush()
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert store().list_events(since=later) == []
    assert len(store().list_events(since=later - timedelta(minutes=5))) == 3


def test_emit_with_an_empty_resource_id_is_one_line(home: Path) -> None:
    from tests.papermill_bridge.test_events_recorded import taskbook

    done = taskbook(home, "events", "emit", "x", "--resource-id", "")
    assert done.returncode == 2 and "--resource-id" in done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    clash = taskbook(
        home, "events", "emit", "x", "--resource-id", "a", "--label", "prefect.resource.id=b"
    )
    assert clash.returncode == 2 and "--resource-id" in clash.stderr


def test_an_automation_made_before_any_scheduler_ran_sees_what_came_after_it(
    home: Path,
) -> None:
    from kernel_ext.automations import Automation, DoNothing, EventTrigger
    from papermill_bridge import Scheduler

    emit_event("order.placed", {"prefect.resource.id": "order.before"})
    store().flush()
    Automation(
        name="orders", trigger=EventTrigger(expect={"order.placed"}), actions=[DoNothing()]
    ).create()
    emit_event("order.placed", {"prefect.resource.id": "order.after"})
    store().flush()
    assert Scheduler().tick()["fired"] == 1  # the first scheduler ever: "after" only
    (firing,) = store().list_firings()
    assert firing["triggering_event"]["resource"]["prefect.resource.id"] == "order.after"


def test_a_naive_since_is_taken_as_utc(home: Path) -> None:
    from datetime import datetime

    emit_event("x.y", {"prefect.resource.id": "x"})
    store().flush()
    assert len(store().list_events(since=datetime(2020, 1, 1))) == 1


def test_a_pause_of_a_paused_automation_changes_nothing(home: Path) -> None:
    from kernel_ext.automations import Automation, DoNothing, EventTrigger

    automation = Automation(
        name="quiet", trigger=EventTrigger(expect={"x"}), actions=[DoNothing()]
    ).create()
    automation.pause()
    before = store().read_automation("quiet")
    automation.pause()
    assert store().read_automation("quiet")["updated"] == before["updated"]
