"""The trigger evaluator, event by event and tick by tick, without a store.

Most cases are Prefect's own (``tests/events/server/triggers/`` in Prefect 3: each test
names its original); the others pin what Taskbook adds: firing keys that do not change
when the same events are evaluated again, windows in the events' time, and buckets that
survive a trip through their records (a restart).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kernel_ext.automations import (
    Automation,
    CompoundTrigger,
    DoNothing,
    EventTrigger,
    Posture,
    SequenceTrigger,
    TriggerTypes,
)
from kernel_ext.events import Event
from papermill_bridge.automations import (
    EXPIRED_BUCKET_BUFFER,
    Bucket,
    Buckets,
    Firing,
    causal_order,
    expire,
    react,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(
    name: str,
    seconds: float = 0,
    resource: str = "some.resource",
    related: list[dict[str, str]] | None = None,
    **labels: str,
) -> Event:
    return Event(
        event=name,
        occurred=at(seconds),
        resource={"prefect.resource.id": resource, **labels},
        related=related or [],
    )


class Evaluator:
    """One automation and its buckets, fed events and ticks like the scheduler does."""

    def __init__(self, trigger: TriggerTypes, **fields: Any) -> None:
        self.automation = Automation(
            id=uuid.uuid4(), name="test", trigger=trigger, actions=[DoNothing()], **fields
        )
        self.buckets = Buckets()

    def send(self, *events: Event) -> list[Firing]:
        return [f for e in events for f in react(self.automation, e, self.buckets, e.occurred)]

    def tick(self, seconds: float, grace: float = 0) -> list[Firing]:
        return expire(self.automation, self.buckets, at(seconds), timedelta(seconds=grace))


def woodchonk(name: str = "animal.walked", seconds: float = 0) -> Event:
    return event(name, seconds, "woodchonk", genus="Marmota", species="monax")


def spider(seconds: float = 0) -> Event:
    return event("animal.walked", seconds, "daddy-long-legs", **{"class": "Arachnida"})


# -- reactive triggers (Prefect: test_basics.py) ----------------------------------------


def test_reactive_automation_triggers_can_trigger_immediately() -> None:
    evaluator = Evaluator(EventTrigger(expect={"animal.walked"}, match={"class": "Arachnida"}))
    first, second = spider(0), spider(10.000001)
    (fired,) = evaluator.send(first)
    assert fired.triggering_event == first and fired.triggering_labels == {}
    (again,) = evaluator.send(second)
    assert again.triggering_event == second


def test_reactive_automation_triggers_only_on_expected_events() -> None:
    evaluator = Evaluator(EventTrigger(expect={"animal.walked"}, match={"class": "Arachnida"}))
    snoozed = spider()
    snoozed.event = "animal.snoozed"
    assert evaluator.send(snoozed) == []
    assert len(evaluator.send(spider(1))) == 1


def chonk_party() -> Evaluator:
    return Evaluator(
        EventTrigger(expect={"animal.walked"}, match={"genus": "Marmota"}, threshold=3, within=10)
    )


def test_reactive_automation_triggers_as_soon_as_it_can() -> None:
    evaluator = chonk_party()
    assert evaluator.send(woodchonk(seconds=0), woodchonk(seconds=1)) == []
    third = woodchonk(seconds=2)
    (fired,) = evaluator.send(third)
    assert fired.triggering_event == third
    # Not again in the same window...
    assert evaluator.send(woodchonk(seconds=3), woodchonk(seconds=4)) == []
    # ...but after three more in a later one.
    assert evaluator.send(woodchonk(seconds=24), woodchonk(seconds=25)) == []
    assert len(evaluator.send(woodchonk(seconds=26))) == 1


def test_reactive_automation_does_not_trigger_if_threshold_not_met() -> None:
    evaluator = chonk_party()
    walks = [woodchonk(seconds=0), woodchonk(seconds=1), woodchonk(seconds=21)]
    assert evaluator.send(*walks) == []


def test_reactive_automation_triggers_immediately_even_if_event_matches_after() -> None:
    evaluator = Evaluator(
        EventTrigger(expect={"animal.table_for_one"}, match={"genus": "Marmota"}, within=10)
    )
    assert evaluator.send(woodchonk("animal.eat", 0)) == []
    assert len(evaluator.send(woodchonk("animal.table_for_one", 500))) == 1


def meal(genus: str, species: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"my-{genus}",
        "prefect.resource.role": "meal",
        "genus": genus,
        "species": species,
    }


def test_reactive_automation_triggers_for_each_related_label() -> None:
    evaluator = Evaluator(
        EventTrigger(
            expect={"animal.ingested"},
            for_each={"related:meal:genus", "related:meal:species"},
            threshold=3,
            within=600,
        )
    )
    lily = [meal("Hemerocallis", "fulva"), meal("Tulipa", "gesneriana")]
    heart = [meal("Dicentra", "cucullaria"), meal("Narcissus", "poeticus")]

    def nibble(seconds: int, related: list[dict[str, str]]) -> Event:
        return event("animal.ingested", seconds, "woodchonk", related)

    assert evaluator.send(nibble(1, lily), nibble(2, lily), nibble(3, heart)) == []
    (fired,) = evaluator.send(nibble(4, lily))
    assert fired.triggering_labels == {
        "related:meal:genus": "Hemerocallis",
        "related:meal:species": "fulva",
    }
    assert evaluator.send(nibble(5, heart)) == []
    (fired,) = evaluator.send(nibble(6, heart))
    assert fired.triggering_labels["related:meal:genus"] == "Dicentra"


def test_reactive_triggers_clean_up_after_themselves_if_they_do_fire() -> None:
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            expect={"prefect.flow-run.Failed"},
            within=10,
            for_each={"prefect.resource.id"},
            match_related={
                "prefect.resource.id": "prefect.flow.ffff",
                "prefect.resource.role": "flow",
            },
        )
    )
    flow = [{"prefect.resource.id": "prefect.flow.ffff", "prefect.resource.role": "flow"}]
    running = event("prefect.flow-run.Running", 0, "prefect.flow-run.frfr", flow)
    assert evaluator.send(running) == []
    assert len(evaluator.buckets) == 0  # an irrelevant event opens no window
    assert (
        len(evaluator.send(event("prefect.flow-run.Failed", 1, "prefect.flow-run.frfr", flow))) == 1
    )
    ((_, bucket),) = evaluator.buckets.of_trigger(
        str(evaluator.automation.id), str(evaluator.automation.trigger.id)
    )
    assert (bucket.start, bucket.end) == (at(11), at(21))  # the next window
    evaluator.tick(21)
    assert len(evaluator.buckets) == 1  # just ended: kept a little while
    evaluator.tick(21 + EXPIRED_BUCKET_BUFFER.total_seconds() + 1)
    assert len(evaluator.buckets) == 0


# -- proactive triggers (Prefect: test_basics.py, test_regressions.py) -------------------


def test_proactive_trigger_fires_after_time_expires() -> None:
    evaluator = Evaluator(
        EventTrigger(
            expect={"animal.walked"}, match={"genus": "Marmota"}, posture="Proactive", within=30
        )
    )
    for seconds in (0, 9, 10):
        assert evaluator.tick(seconds) == []
    (fired,) = evaluator.tick(30)
    assert fired.triggering_event is None and fired.occurred == at(30)
    assert evaluator.tick(31) == []  # the next window started at 30
    assert len(evaluator.tick(60)) == 1


def test_proactive_trigger_waits_for_late_writes_for_the_grace() -> None:
    evaluator = Evaluator(EventTrigger(expect={"animal.walked"}, posture="Proactive", within=30))
    evaluator.tick(0)
    assert evaluator.tick(40, grace=30) == []  # the window ended at 30: wait till 60
    evaluator.send(woodchonk(seconds=29))  # occurred in time, written late
    assert evaluator.tick(61, grace=30) == []


def expect_and_after(posture: Posture, threshold: int, within: float) -> Evaluator:
    return Evaluator(
        EventTrigger(
            after={"some-event"},
            expect={"some-event"},
            posture=posture,
            threshold=threshold,
            within=within,
        )
    )


def test_same_event_in_expect_and_after_never_reacts_immediately() -> None:
    evaluator = expect_and_after(Posture.Reactive, 1, 0)
    assert evaluator.send(*(event("some-event", s) for s in range(4))) == []


def test_same_event_in_expect_and_after_reacts_after_threshold_is_met() -> None:
    evaluator = expect_and_after(Posture.Reactive, 1, 5)
    counts = [len(evaluator.send(event("some-event", s))) for s in (1, 2, 3, 4, 61, 62)]
    assert counts == [0, 1, 0, 1, 0, 1]


def test_same_event_in_expect_and_after_proactively_does_not_fire() -> None:
    evaluator = expect_and_after(Posture.Proactive, 2, 10)
    for seconds in (1, 2, 3):
        evaluator.send(event("some-event", seconds))
        assert evaluator.tick(seconds) == []
    assert evaluator.tick(10) == [] and evaluator.tick(11) == []


def test_same_event_in_expect_and_after_proactively_fires() -> None:
    evaluator = expect_and_after(Posture.Proactive, 2, 10)
    evaluator.send(event("some-event", 1))
    assert evaluator.tick(2) == []
    evaluator.send(event("some-event", 3))
    assert evaluator.tick(4) == []
    assert len(evaluator.tick(11)) == 1  # one more, not two, within 10 s of the first
    # Not armed again: unlike Prefect, no window opens without its `after` event.
    assert evaluator.tick(30) == [] and evaluator.tick(45) == []


def test_rapid_fire_events() -> None:
    evaluator = Evaluator(EventTrigger(expect={"some-event"}))
    events = [event("some-event", i / 1_000_000) for i in range(50)]
    random.Random(7).shuffle(events)
    firings = evaluator.send(*events)
    assert [f.triggering_event for f in firings] == events
    assert len({f.firing_key for f in firings}) == 50


def test_rapid_fire_events_with_a_threshold() -> None:
    evaluator = Evaluator(EventTrigger(expect={"some-event"}, threshold=10, within=60))
    events = [event("some-event", i / 1_000_000) for i in range(10)]
    events.reverse()  # the worst case: each one earlier than the window's first
    (fired,) = evaluator.send(*events)
    assert fired.triggering_event == events[-1]


def test_reactive_automation_can_trigger_on_events_arriving_in_the_future() -> None:
    evaluator = Evaluator(EventTrigger(expect={"some-event"}, within=10))
    assert len(evaluator.send(event("some-event", 0))) == 1
    assert len(evaluator.send(event("some-event", 999))) == 1


def flow_run(name: str, seconds: float, run: str = "1", **related: str) -> Event:
    links = [
        {"prefect.resource.id": resource, "prefect.resource.role": role}
        for role, resource in related.items()
    ]
    return event(f"prefect.flow-run.{name}", seconds, f"prefect.flow-run.{run}", links)


def test_proactive_flow_run_automation_includes_triggering_event() -> None:
    after = ["Retrying", "AwaitingRetry", "Resuming", "Cancelling", "Pending", "Running"]
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={f"prefect.flow-run.{name}" for name in after},
            expect={"prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture="Proactive",
            within=7200,
        )
    )
    evaluator.send(flow_run("Running", 0))
    second = flow_run("Running", 1800)  # a heartbeat: the wait starts again
    assert evaluator.send(second) == []
    assert evaluator.tick(7300) == []
    (fired,) = evaluator.tick(1800 + 7260)
    assert fired.triggering_event == second
    assert fired.triggering_labels == {"prefect.resource.id": "prefect.flow-run.1"}


def test_zombie_flow_detection_fires_when_heartbeats_stop() -> None:
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture="Proactive",
            within=90,
        )
    )
    second = flow_run("heartbeat", 30)
    assert evaluator.send(flow_run("heartbeat", 0), second) == []
    assert evaluator.tick(31) == []
    (fired,) = evaluator.tick(121)
    assert fired.triggering_event == second


def test_same_event_in_expect_and_after_proactively_fires_with_for_each_threshold_1() -> None:
    evaluator = Evaluator(
        EventTrigger(
            for_each={"prefect.resource.id"},
            after={"some-event"},
            expect={"some-event"},
            posture="Proactive",
            within=300,
        )
    )
    fired = []
    for minute in range(11):
        if minute % 5 == 0:
            fired.append(len(evaluator.tick(minute * 60)))
        if minute in (1, 2):
            evaluator.send(event("some-event", minute * 60))
    assert fired == [0, 0, 1]


# -- service-level agreements (Prefect: test_flow_run_slas.py) ---------------------------


def runs_of_fast_and_stuck_flows() -> list[Event]:
    fast = [("scheduled", 1, "F1"), ("pending", 2, "F1"), ("running", 3, "F1")]
    fast += [("completed", 10, "F1"), ("pending", 22, "F2"), ("running", 23, "F2")]
    fast += [("completed", 30, "F2")]
    stuck = [("scheduled", 2, "SLOW"), ("pending", 3, "SLOW"), ("running", 4, "SLOW")]
    return sorted(
        (flow_run(name, seconds, run) for name, seconds, run in fast + stuck),
        key=lambda e: e.occurred,
    )


@pytest.mark.parametrize(
    "expect",
    [{"prefect.flow-run.completed", "prefect.flow-run.cancelled"}, {"prefect.flow-run.*"}],
    ids=["only-the-stuck-flow-triggers", "wildcard-expect-that-is-a-superset"],
)
def test_only_the_stuck_flow_triggers(expect: set[str]) -> None:
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            after={"prefect.flow-run.running"},
            expect=expect,
            posture="Proactive",
            within=60,
        )
    )
    events = runs_of_fast_and_stuck_flows()
    assert evaluator.send(*events) == []
    assert evaluator.tick(50) == []
    (fired,) = evaluator.tick(64)
    assert fired.triggering_labels == {"prefect.resource.id": "prefect.flow-run.SLOW"}
    assert fired.triggering_event == events[5]  # its Running, at 4 s


def test_react_only_to_scheduled_flows_completing() -> None:
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            after={"prefect.flow-run.scheduled"},
            expect={"prefect.flow-run.completed"},
            threshold=0,
        )
    )
    events = runs_of_fast_and_stuck_flows()
    (fired,) = evaluator.send(*events)
    assert fired.triggering_event == events[6]  # F1's completed: F2 was never scheduled


def test_react_to_runs_that_go_to_any_state_after_pending() -> None:
    evaluator = Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            after={"prefect.flow-run.pending"},
            threshold=0,
        )
    )
    assert len(evaluator.send(*runs_of_fast_and_stuck_flows())) == 3


def regression_3521() -> Evaluator:
    return Evaluator(
        EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.id": ["prefect.flow.f1", "prefect.flow.f2"],
                "prefect.resource.role": "flow",
            },
            for_each={"prefect.resource.id"},
            after={"prefect.flow-run.Running"},
            expect={"prefect.flow-run.*"},
            posture="Proactive",
            within=7200,
        )
    )


def sequence_3521(completed: bool) -> list[Event | float]:
    flow = {"flow": "prefect.flow.f1"}
    items: list[Event | float] = [
        flow_run("Pending", 0, "fr", **flow),
        flow_run("Running", 60, "fr", **flow),
        event("prefect.log.write", 120, "prefect.flow-run.fr"),
        180,
    ]
    if completed:
        items.append(flow_run("Completed", 240, "fr", **flow))
    return items + [m * 60 for m in (5, 119, 120, 121, 123, 124, 125, 250)]


def play(evaluator: Evaluator, items: list[Event | float]) -> int:
    fired = 0
    for item in items:
        fired += len(evaluator.send(item) if isinstance(item, Event) else evaluator.tick(item))
    return fired


def test_regression_3521_negative_case() -> None:
    assert play(regression_3521(), sequence_3521(completed=True)) == 0


def test_regression_3521_positive_case() -> None:
    assert play(regression_3521(), sequence_3521(completed=False)) == 1


def test_regression_3521_side_quest() -> None:
    """A long pause between evaluations does not lose the window, nor fire it twice."""
    evaluator = regression_3521()
    events = [item for item in sequence_3521(completed=False) if isinstance(item, Event)]
    evaluator.send(*events)
    assert len(evaluator.tick(250 * 60)) == 1
    assert evaluator.tick(251 * 60) == [] and evaluator.tick(450 * 60) == []


# -- compound and sequence triggers (Prefect: test_composite_triggers.py) --------------


def reacting_to(name: str, resource: str = "prefect.flow-run.*") -> EventTrigger:
    return EventTrigger(expect={name}, match={"prefect.resource.id": resource})


def run_events() -> list[Event]:
    names = ["Pending", "Running", "Completed", "Failed"]
    return [flow_run(name, i / 1_000_000, str(i)) for i, name in enumerate(names)]


def test_compound_automation_any_trigger() -> None:
    triggers: list[TriggerTypes] = [
        reacting_to("prefect.flow-run.Failed"),
        reacting_to("prefect.flow-run.NonExistent"),
    ]
    evaluator = Evaluator(CompoundTrigger(require="any", within=300, triggers=triggers))
    (fired,) = evaluator.send(*run_events())
    assert fired.trigger_id == str(evaluator.automation.trigger.id)
    assert [child.trigger_id for child in fired.triggering_firings] == [str(triggers[0].id)]


def test_compound_automation_any_double_nested_trigger() -> None:
    inner = CompoundTrigger(
        require="any", within=300, triggers=[reacting_to("prefect.flow-run.Failed")]
    )
    middle = CompoundTrigger(require="any", within=300, triggers=[inner])
    evaluator = Evaluator(CompoundTrigger(require="any", within=300, triggers=[middle]))
    (fired,) = evaluator.send(*run_events())
    assert fired.all_events()[0].event == "prefect.flow-run.Failed"


def test_compound_automation_all_no_match_trigger_does_not_act() -> None:
    triggers: list[TriggerTypes] = [
        reacting_to("prefect.flow-run.Failed"),
        reacting_to("prefect.flow-run.NotExistent"),
    ]
    evaluator = Evaluator(CompoundTrigger(require="all", within=300, triggers=triggers))
    assert evaluator.send(*run_events()) == []


def test_compound_automation_all_match_trigger_acts_and_will_not_double_fire() -> None:
    triggers: list[TriggerTypes] = [
        reacting_to("prefect.flow-run.Failed"),
        reacting_to("prefect.flow-run.Completed"),
    ]
    evaluator = Evaluator(CompoundTrigger(require="all", within=300, triggers=triggers))
    (fired,) = evaluator.send(*run_events())
    assert len(fired.triggering_firings) == 2
    assert evaluator.send(flow_run("Failed", 1, "9")) == []  # the children were spent


def test_compound_automation_requires_its_children_within_its_window() -> None:
    triggers: list[TriggerTypes] = [
        reacting_to("prefect.flow-run.Failed"),
        reacting_to("prefect.flow-run.Completed"),
    ]
    evaluator = Evaluator(CompoundTrigger(require=2, within=300, triggers=triggers))
    assert evaluator.send(flow_run("Failed", 0), flow_run("Completed", 301)) == []
    assert len(evaluator.send(flow_run("Failed", 302))) == 1


def baker(within: float | None = 5) -> Evaluator:
    return Evaluator(
        SequenceTrigger(
            triggers=[
                reacting_to("ingredients.buy", "prefect.ingredients.*"),
                reacting_to("ingredients.mix", "prefect.ingredients.*"),
                reacting_to("cake.bake", "prefect.cake.*"),
            ],
            within=within,
        )
    )


def baking(*steps: tuple[str, float]) -> list[Event]:
    kinds = {"ingredients.buy": "ingredients", "ingredients.mix": "ingredients"}
    return [
        event(name, seconds, f"prefect.{kinds.get(name, 'cake')}.12345") for name, seconds in steps
    ]


def test_sequence_trigger_multiple_triggers_fired_in_order_acts() -> None:
    steps = baking(("ingredients.buy", 1), ("ingredients.mix", 2), ("cake.bake", 3))
    (fired,) = baker().send(*steps)
    assert [child.triggering_event for child in fired.triggering_firings] == steps


def test_sequence_trigger_multiple_triggers_fired_out_of_order_does_not_act() -> None:
    steps = baking(("ingredients.mix", 1), ("ingredients.buy", 2), ("cake.bake", 3))
    assert baker().send(*steps) == []


def test_sequence_trigger_multiple_triggers_fire_in_order_expired_does_not_act() -> None:
    """An xfail in Prefect, whose windows are in its evaluator's time: here they are in
    the events' time."""
    steps = baking(("ingredients.buy", 1), ("ingredients.mix", 2), ("cake.bake", 14 * 60))
    assert baker().send(*steps) == []


def test_sequence_trigger_no_within_and_expired_triggers() -> None:
    steps = baking(("ingredients.buy", 1), ("ingredients.mix", 2), ("cake.bake", 14 * 60))
    assert len(baker(within=None).send(*steps)) == 1


def test_sequence_trigger_duplicate_events() -> None:
    in_order = baking(
        ("ingredients.buy", 1), ("ingredients.mix", 2), ("ingredients.mix", 3), ("cake.bake", 4)
    )
    assert len(baker().send(*in_order)) == 1
    somewhat_out_of_order = baking(
        ("ingredients.buy", 1), ("ingredients.mix", 2), ("ingredients.buy", 3), ("cake.bake", 4)
    )
    assert baker().send(*somewhat_out_of_order) == []


def test_sequence_trigger_identical_event_triggers_only_one_fired_does_not_act() -> None:
    """An xfail in Prefect: one event cannot be both the first and the second step."""
    twins = SequenceTrigger(
        triggers=[reacting_to("ingredients.buy", "*"), reacting_to("ingredients.buy", "*")],
        within=5,
    )
    assert Evaluator(twins).send(*baking(("ingredients.buy", 1))) == []


def test_sequence_and_compound_trigger_multiple_triggers() -> None:
    hosting = CompoundTrigger(
        require="all",
        within=300,
        triggers=[reacting_to("guests.greet", "*"), reacting_to("cake.serve", "*")],
    )
    host = SequenceTrigger(triggers=[*baker().automation.trigger.triggers, hosting], within=60)  # type: ignore[union-attr]
    steps = baking(("ingredients.buy", 1), ("ingredients.mix", 2), ("cake.bake", 3))
    party = [event("guests.greet", 7), event("cake.serve", 8)]
    (fired,) = Evaluator(host).send(*steps, *party)
    assert fired.trigger_id == str(host.id)
    mixed = [event("cake.serve", 0.5), event("guests.greet", 0.6)]
    assert Evaluator(host.model_copy(deep=True)).send(*mixed, *steps) == []


# -- what Taskbook adds ------------------------------------------------------------------


def sla() -> Evaluator:
    return Evaluator(
        EventTrigger(
            after={"prefect.flow-run.Running"},
            expect={"prefect.flow-run.Completed"},
            for_each={"prefect.resource.id"},
            posture="Proactive",
            within=600,
        )
    )


def test_an_sla_fires_for_the_run_that_did_not_complete_in_time() -> None:
    evaluator = sla()
    evaluator.send(flow_run("Running", 0, "late"), flow_run("Running", 0, "quick"))
    evaluator.send(flow_run("Completed", 100, "quick"))
    assert evaluator.tick(599) == []
    (fired,) = evaluator.tick(600)
    assert fired.triggering_labels == {"prefect.resource.id": "prefect.flow-run.late"}
    assert fired.occurred == at(600) and fired.fired == at(600)
    assert evaluator.tick(1200) == []


def test_every_deployment_must_complete_a_run_every_hour() -> None:
    evaluator = Evaluator(
        EventTrigger(
            expect={"prefect.flow-run.Completed"},
            for_each={"related:deployment:prefect.resource.id"},
            posture="Proactive",
            within=3600,
        )
    )
    deployment = {"deployment": "prefect.deployment.d1"}
    evaluator.send(flow_run("Completed", 0, "a", **deployment))
    assert evaluator.tick(3600) == []  # it completed one in its first hour
    evaluator.send(flow_run("Completed", 4000, "b", **deployment))
    assert evaluator.tick(7200) == []
    (fired,) = evaluator.tick(3 * 3600)  # none in the third hour
    assert fired.triggering_labels == {
        "related:deployment:prefect.resource.id": "prefect.deployment.d1"
    }


def test_the_same_events_from_the_same_buckets_give_the_same_firing_keys() -> None:
    """A tick that did not commit is evaluated again: its firings keep their keys, so the
    outbox stores each once."""
    evaluator = sla()
    evaluator.send(flow_run("Running", 0, "late"))
    saved = {key: Bucket.from_record(b.to_record()) for key, b in _all(evaluator.buckets)}
    first = evaluator.tick(601)
    evaluator.buckets = Buckets(saved)  # the transaction rolled back; another scheduler
    again = evaluator.tick(605)
    assert [f.firing_key for f in first] == [f.firing_key for f in again] != []

    reactive = Evaluator(EventTrigger(expect={"some-event"}, threshold=2, within=60))
    events = [event("some-event", 1), event("some-event", 2)]
    keys = [f.firing_key for f in reactive.send(*events)]
    reactive.buckets = Buckets()
    assert [f.firing_key for f in reactive.send(*events)] == keys


def test_buckets_track_what_changed() -> None:
    key = ("a", "t", "")
    other = ("a", "t", '["x"]')
    bucket = Bucket(at(0), at(10), 1)
    buckets = Buckets({key: bucket})
    assert buckets.changed() == {}
    buckets.put(other, bucket)
    buckets.remove(key)
    buckets.remove(("a", "t", "never-there"))
    assert buckets.changed() == {other: bucket, key: None}
    buckets.mark_saved()
    assert buckets.changed() == {} and list(buckets) == [other]


def test_records_survive_a_restart() -> None:
    triggers: list[TriggerTypes] = [
        reacting_to("prefect.flow-run.Failed"),
        reacting_to("prefect.flow-run.Completed"),
    ]
    evaluator = Evaluator(CompoundTrigger(require="all", within=300, triggers=triggers))
    evaluator.send(flow_run("Failed", 0))
    restored = Buckets({k: Bucket.from_record(b.to_record()) for k, b in _all(evaluator.buckets)})
    evaluator.buckets = restored
    (fired,) = evaluator.send(flow_run("Completed", 1))
    assert Firing.from_record(fired.to_record()) == fired


def test_a_disabled_automation_neither_reacts_nor_expires() -> None:
    evaluator = Evaluator(EventTrigger(expect={"some-event"}), enabled=False)
    assert evaluator.send(event("some-event")) == [] and evaluator.tick(100) == []


def test_an_automation_without_an_id_is_refused() -> None:
    automation = Automation(name="x", trigger=EventTrigger(), actions=[DoNothing()])
    with pytest.raises(ValueError, match="has no id"):
        react(automation, event("x"), Buckets(), T0)


def test_causal_order_puts_each_event_after_the_one_it_follows() -> None:
    running = flow_run("Running", 60)
    completed = flow_run("Completed", 59)  # its clock was behind
    completed.follows = running.id
    other = flow_run("Pending", 30, "2")
    assert causal_order([completed, running, other]) == [other, running, completed]


def _all(buckets: Buckets) -> list[tuple[tuple[str, str, str], Bucket]]:
    return [(key, bucket) for key in buckets if (bucket := buckets.get(key)) is not None]
