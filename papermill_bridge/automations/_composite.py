"""Compound and sequence triggers: a child's firing goes up to its parent, which fires
once enough of its children have (Prefect's ``evaluate_composite_trigger``).

A parent keeps the latest firing of each child (in ``Buckets``, under ``child:<id>``).
"Within" and "in order" are judged on the firings' ``occurred`` (the events' time), so a
backlog evaluated late gives the same answer as live evaluation; Prefect uses the time
its evaluator saw each firing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise

from kernel_ext.automations import Automation, CompositeTrigger, SequenceTrigger, TriggerTypes
from papermill_bridge.automations._buckets import CHILD_PREFIX, Bucket, BucketKey, Buckets
from papermill_bridge.automations._firings import Firing

__all__ = ["drop_stale_children", "parents_of", "propagate"]

Parents = dict[str, CompositeTrigger | None]


def parents_of(automation: Automation) -> Parents:
    """Each trigger's id and the composite trigger it is a child of (None at the top)."""
    parents: Parents = {}

    def visit(trigger: TriggerTypes, parent: CompositeTrigger | None) -> None:
        parents[str(trigger.id)] = parent
        if isinstance(trigger, CompositeTrigger):
            for child in trigger.triggers:
                visit(child, trigger)

    visit(automation.trigger, None)
    return parents


def propagate(firing: Firing, parents: Parents, buckets: Buckets) -> list[Firing]:
    """The automation's firings that ``firing`` (of any of its triggers) leads to: itself
    at the top, its parent's if that is now satisfied, else none."""
    parent = parents.get(firing.trigger_id)
    if parent is None:
        return [firing]
    if parent.num_expected_firings == 1:  # Prefect's shortcut: nothing to wait for
        return propagate(_parent_firing(parent, (firing,), firing), parents, buckets)
    held = _hold(parent, firing, buckets)
    if not _ready(parent, held):
        return []
    for child in parent.triggers:
        buckets.remove(_child_key(firing.automation_id, parent, str(child.id)))
    return propagate(_parent_firing(parent, tuple(held), firing), parents, buckets)


def drop_stale_children(
    automation: Automation, parents: Parents, buckets: Buckets, as_of: datetime
) -> None:
    """Forget the children's firings that fell out of their parent's window by ``as_of``."""
    automation_id = str(automation.id)
    for parent in {id(p): p for p in parents.values() if p is not None}.values():
        if parent.within is None:
            continue
        for key, bucket in buckets.of_trigger(automation_id, str(parent.id)):
            if bucket.start < as_of - parent.within:
                buckets.remove(key)


def _hold(parent: CompositeTrigger, firing: Firing, buckets: Buckets) -> list[Firing]:
    """Keep ``firing`` as its trigger's latest (dropping those out of the window), and
    return the firings the parent now holds, oldest first."""
    automation_id = firing.automation_id
    held = buckets.of_trigger(automation_id, str(parent.id))
    if parent.within is not None:
        for key, bucket in held:
            if bucket.start < firing.occurred - parent.within:
                buckets.remove(key)
    key = _child_key(automation_id, parent, firing.trigger_id)
    kept = buckets.get(key)
    if kept is None or kept.start <= firing.occurred:
        end = firing.occurred + (parent.within or timedelta(0))
        buckets.put(key, Bucket(firing.occurred, end, 1, firing.triggering_event, firing))
    return [
        bucket.firing
        for _, bucket in buckets.of_trigger(automation_id, str(parent.id))
        if bucket.firing is not None
    ]


def _ready(parent: CompositeTrigger, held: list[Firing]) -> bool:
    if not isinstance(parent, SequenceTrigger):
        return len(held) >= parent.num_expected_firings
    order = [firing.trigger_id for firing in held]
    moments = [firing.occurred for firing in held]
    in_order = all(earlier < later for earlier, later in pairwise(moments))
    return in_order and order == [str(child.id) for child in parent.triggers]


def _parent_firing(
    parent: CompositeTrigger, children: tuple[Firing, ...], completing: Firing
) -> Firing:
    """The parent's firing, keyed by the child firing that completed it (unique, and
    the same each time the same events are evaluated)."""
    return replace(
        completing,
        trigger_id=str(parent.id),
        firing_key=f"{parent.id}:{completing.firing_key}",
        triggering_labels={},
        triggering_firings=children,
    )


def _child_key(automation_id: str, parent: CompositeTrigger, child_id: str) -> BucketKey:
    return (automation_id, str(parent.id), CHILD_PREFIX + child_id)
