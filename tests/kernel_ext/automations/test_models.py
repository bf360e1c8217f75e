"""The automation models: Prefect's shapes, its validation (with messages that say what
to do), their JSON, and ``Automation``'s methods on a real store.

Cases taken from Prefect 3 name their original (``tests/events/server/triggers/
test_basics.py``, ``tests/events/server/schemas/test_automations.py``,
``tests/events/server/actions/test_infinite_loops.py``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kernel_ext import flow
from kernel_ext._errors import AutomationExists
from kernel_ext.automations import (
    Automation,
    CancelFlowRun,
    CompoundTrigger,
    DoNothing,
    EventTrigger,
    PauseDeployment,
    Posture,
    ResourceSpecification,
    RunDeployment,
    SendNotification,
    SequenceTrigger,
    glob_matches,
)
from kernel_ext.events import Event


def errors_of(call: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    return "\n".join(str(e["msg"]) for e in caught.value.errors())


# -- matching (Prefect: test_basics.py) -------------------------------------------------


@pytest.mark.parametrize(
    "expected, value",
    [
        ("*", "any.old.thing"),
        ("*.csv", "file.csv"),
        ("!*.csv", "file.parquet"),
        ("s3://*.csv", "s3://bucket/object.csv"),
        ("s3://*", "s3://bucket/file.csv"),
        ("!s3://*", "http://example.com"),
        ("exactamundo", "exactamundo"),
    ],
)
def test_matches(expected: str, value: str) -> None:
    assert glob_matches(expected, value)


@pytest.mark.parametrize(
    "expected, value",
    [
        ("*", None),
        ("*.csv", "file.parquet"),
        ("!*.csv", "file.csv"),
        ("s3://*.csv", "https://host/file.csv"),
        ("s3://*", "https://host/file.csv"),
        ("!s3://*", "s3://bucket/file.csv"),
        ("exactamundo", "positively not"),
    ],
)
def test_does_not_match(expected: str, value: str | None) -> None:
    assert not glob_matches(expected, value)


def nibbled() -> Event:
    return Event(
        event="animal.ingested",
        resource={"prefect.resource.id": "woodchonk", "genus": "Marmota"},
        related=[
            {
                "prefect.resource.id": "my-lily",
                "prefect.resource.role": "meal",
                "genus": "Hemerocallis",
            },
            {"prefect.resource.id": "my-tulip", "prefect.resource.role": "meal", "genus": "Tulipa"},
        ],
    )


def test_trigger_covers_its_resources_and_related_resources() -> None:
    spiders = EventTrigger(expect={"animal.walked"}, match={"class": "Arachnida"})
    assert not spiders.covers(nibbled())
    lilies = EventTrigger(
        expect={"animal.ingested"},
        match_related={"prefect.resource.role": "meal", "genus": "Hemerocallis"},
    )
    assert lilies.covers(nibbled())


@pytest.mark.parametrize(("second", "covered"), [("Tulipa", True), ("Narcissus", False)])
def test_trigger_covers_multiple_related_resources(second: str, covered: bool) -> None:
    trigger = EventTrigger(
        expect={"animal.ingested"},
        match_related=[
            ResourceSpecification({"prefect.resource.role": "meal", "genus": "Hemerocallis"}),
            ResourceSpecification({"prefect.resource.role": "meal", "genus": second}),
        ],
    )
    assert trigger.covers(nibbled()) is covered


def test_no_expects_means_all_events() -> None:
    assert EventTrigger(match={"genus": "Marmota"}).covers(nibbled())


# -- triggers ---------------------------------------------------------------------------


def test_triggers_have_identifiers() -> None:
    trigger = EventTrigger(expect={"animal.walked"})
    copy = EventTrigger.model_validate(trigger.model_dump(exclude={"id"}))
    assert copy.id != trigger.id
    assert EventTrigger.model_validate(trigger.model_dump()).id == trigger.id


def test_proactive_window_is_at_least_ten_seconds() -> None:
    assert EventTrigger(posture=Posture.Proactive).within == timedelta(seconds=10)
    assert "greater than or equal to 10 seconds; got 5" in errors_of(
        lambda: EventTrigger.model_validate({"posture": "Proactive", "within": 5})
    )
    assert EventTrigger.model_validate({"within": 600}).within == timedelta(minutes=10)
    assert EventTrigger.model_validate({"within": "PT1H"}).within == timedelta(hours=1)
    assert "cannot be negative" in errors_of(lambda: EventTrigger.model_validate({"within": -1}))
    assert "should be a duration" in errors_of(
        lambda: EventTrigger.model_validate({"within": None})
    )


def test_thresholds_that_can_never_be_met_are_refused() -> None:
    assert "cannot be negative" in errors_of(lambda: EventTrigger(threshold=-1))
    assert "can never fire" in errors_of(
        lambda: EventTrigger.model_validate({"posture": "Proactive", "threshold": 0})
    )
    assert EventTrigger(threshold=0).threshold == 0  # Prefect's "after, then any"


def test_metric_triggers_are_refused_with_what_to_use() -> None:
    message = errors_of(
        lambda: Automation.model_validate(
            {"name": "m", "trigger": {"type": "metric"}, "actions": []}
        )
    )
    assert "metric triggers are not supported; use an event trigger" in message


def test_compound_trigger_requires_too_small_or_too_big() -> None:
    children = [EventTrigger(expect={"dragon.seen"}), EventTrigger(expect={"dragon.seen"})]
    assert "require must be at least 1" in errors_of(
        lambda: CompoundTrigger(triggers=children, require=0)
    )
    assert "less than or equal to the number of triggers (2); got 3" in errors_of(
        lambda: CompoundTrigger(triggers=children, require=3)
    )
    assert "at least one trigger" in errors_of(
        lambda: SequenceTrigger.model_validate({"triggers": []})
    )


def test_composite_triggers_parse_from_json() -> None:
    """Prefect: test_server_composite_triggers_validate_to_server_triggers."""
    info = {
        "name": "a compound automation",
        "trigger": {
            "type": "compound",
            "require": "all",
            "within": 60,
            "triggers": [
                {"posture": "Reactive", "expect": ["integration.A"], "threshold": 1, "within": 0},
                {"posture": "Reactive", "expect": ["integration.B"], "threshold": 1, "within": 0},
            ],
        },
        "actions": [{"type": "do-nothing"}],
    }
    automation = Automation.model_validate_json(json.dumps(info))
    assert isinstance(automation.trigger, CompoundTrigger)
    assert all(isinstance(t, EventTrigger) for t in automation.trigger.triggers)
    assert automation.trigger.within == timedelta(seconds=60)
    sequence = Automation.model_validate(
        {**info, "trigger": {"triggers": info["trigger"]["triggers"]}}
    )  # type: ignore[index]
    assert isinstance(sequence.trigger, SequenceTrigger)  # no `require`: a sequence


def test_unknown_fields_are_refused_but_prefect_only_fields_are_dropped() -> None:
    assert "Extra inputs are not permitted" in errors_of(
        lambda: EventTrigger.model_validate({"threshhold": 2})
    )
    automation = Automation.model_validate(
        {
            "name": "exported from Prefect",
            "trigger": {"expect": ["x"]},
            "actions": [],
            "tags": ["t"],
            "owner_resource": None,
            "created": "2026-01-01T00:00:00Z",
        }
    )
    assert automation.name == "exported from Prefect"


def test_sets_are_stored_sorted() -> None:
    trigger = EventTrigger(expect={"b", "a", "c"}, for_each={"z", "y"})
    dumped = trigger.model_dump(mode="json")
    assert dumped["expect"] == ["a", "b", "c"] and dumped["for_each"] == ["y", "z"]


def test_describe_for_cli() -> None:
    trigger = CompoundTrigger(
        require="any",
        triggers=[
            EventTrigger(expect={"prefect.flow-run.Failed"}, threshold=2, within=60),
            EventTrigger(
                after={"prefect.flow-run.Running"},
                expect={"prefect.flow-run.Completed"},
                posture=Posture.Proactive,
                within=600,
                for_each={"prefect.resource.id"},
            ),
        ],
    )
    assert trigger.describe_for_cli().splitlines() == [
        "Any of:",
        "  Reactive: expecting 2 of prefect.flow-run.Failed within 0:01:00",
        "  Proactive: expecting 1 prefect.flow-run.Completed within 0:10:00 after "
        "prefect.flow-run.Running, for each prefect.resource.id",
    ]


# -- actions ----------------------------------------------------------------------------


def test_deployment_actions_are_selected_or_inferred() -> None:
    assert PauseDeployment(deployment="nightly").source == "selected"
    assert PauseDeployment(source="inferred").deployment is None
    assert "deployment_id is required" in errors_of(lambda: PauseDeployment())
    assert "not allowed with `source: inferred`" in errors_of(
        lambda: PauseDeployment(source="inferred", deployment_id=uuid.uuid4())
    )
    assert "not both" in errors_of(
        lambda: PauseDeployment(deployment="a", deployment_id=uuid.uuid4())
    )


def test_run_deployment_takes_templated_parameters_and_ignores_job_variables() -> None:
    action = RunDeployment(
        deployment="ingest",
        parameters={"path": "{{ event.payload.path }}", "n": 3},
        job_variables={"image": "x"},
    )
    assert action.parameters == {"path": "{{ event.payload.path }}", "n": 3}
    assert "the value at paths[1] is not a valid Jinja template" in errors_of(
        lambda: RunDeployment(deployment="d", parameters={"paths": ["ok", "{{ broken"]})
    )


def test_notifications_go_to_an_apprise_url_or_a_secret() -> None:
    assert SendNotification(url="json://localhost/").subject == "Taskbook automated notification"
    assert "{{ run_url }}" in SendNotification(secret="oncall").body
    assert "exactly one of them" in errors_of(lambda: SendNotification())
    assert "exactly one of them" in errors_of(lambda: SendNotification(url="x://", secret="s"))
    assert "notification blocks are not supported" in errors_of(
        lambda: SendNotification(block_document_id=uuid.uuid4(), body="b")
    )
    assert "not a valid Jinja template" in errors_of(
        lambda: SendNotification(url="json://h/", body="{% if %}")
    )


@pytest.mark.parametrize(
    "expect",
    ["prefect.flow-run.Running", "prefect.flow-run.*", "prefect.flow-run.Pending"],
)
def test_running_an_inferred_deployment_on_every_run_is_refused(expect: str) -> None:
    """Prefect: test_infinite_loops.py."""
    message = errors_of(
        lambda: Automation(
            name="loop",
            trigger=EventTrigger(expect={expect}),
            actions=[RunDeployment(source="inferred")],
        )
    )
    assert "infinite loop" in message
    selected = RunDeployment(deployment="other")
    assert "infinite loop" in errors_of(
        lambda: Automation(name="loop", trigger=EventTrigger(expect={expect}), actions=[selected])
    )
    narrowed = EventTrigger(
        expect={expect},
        match_related={"prefect.resource.id": "prefect.flow.etl", "prefect.resource.role": "flow"},
    )
    assert Automation(name="ok", trigger=narrowed, actions=[selected]).name == "ok"
    assert Automation(
        name="off", trigger=EventTrigger(expect={expect}), actions=[selected], enabled=False
    )


def test_a_record_round_trips() -> None:
    automation = Automation(
        id=uuid.uuid4(),
        name="a",
        trigger=SequenceTrigger(triggers=[EventTrigger(expect={"a"}), EventTrigger(expect={"b"})]),
        actions=[SendNotification(url="json://h/"), CancelFlowRun()],
        actions_on_trigger=[DoNothing()],
    )
    record = json.loads(json.dumps(automation.to_record()))
    assert Automation.from_record({**record, "created": None, "updated": None}) == automation
    assert [t.id for t in automation.triggers()] == [
        automation.trigger.id,
        *(child.id for child in automation.trigger.triggers),  # type: ignore[union-attr]
    ]


# -- Automation's methods, on a store ---------------------------------------------------


def failures() -> Automation:
    return Automation(
        name="failures",
        description="tell me",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}),
        actions=[DoNothing()],
    )


def test_create_read_update_pause_resume_delete(store: Any) -> None:
    created = failures().create()
    assert created.id is not None
    by_name = Automation.read(name="failures")
    assert by_name == created and Automation.read(id=created.id) == created
    by_name.description = "changed"
    by_name.update()
    assert Automation.read(name="failures").description == "changed"
    assert by_name.pause() is True and Automation.read(name="failures").enabled is False
    assert by_name.resume() is True and Automation.read(name="failures").enabled is True
    assert by_name.disable is not None and by_name.enable is not None  # Prefect 3's names
    assert by_name.delete() is True
    assert by_name.delete() is False
    assert by_name.pause() is False
    with pytest.raises(ValueError, match="Automation with name 'failures' not found"):
        Automation.read(name="failures")


def test_names_are_unique(store: Any) -> None:
    failures().create()
    with pytest.raises(AutomationExists):
        failures().create()


def test_read_needs_one_of_id_or_name(store: Any) -> None:
    with pytest.raises(ValueError, match="One of id or name must be provided"):
        Automation.read()
    with pytest.raises(ValueError, match="Only one of id or name"):
        Automation.read(id=uuid.uuid4(), name="x")
    with pytest.raises(ValueError, match="create\\(\\) it first"):
        failures().delete()


def test_inside_an_async_flow_the_methods_are_awaited(store: Any) -> None:
    @flow
    async def manage() -> tuple[str, bool]:
        await failures().create()  # type: ignore[misc]
        read = await Automation.read(name="failures")  # type: ignore[misc]
        paused = await read.pause()  # type: ignore[misc]
        return read.name, paused

    assert asyncio.run(manage()) == ("failures", True)
    assert asyncio.run(failures().model_copy(update={"name": "other"}).acreate()).name == "other"
