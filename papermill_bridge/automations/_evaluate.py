"""The trigger evaluator: events and the clock in, firings out, with no I/O.

    buckets = Buckets(loaded_from_the_store)
    for event in causal_order(new_events):
        firings += react(automation, event, buckets, now)
    firings += expire(automation, buckets, now)
    # write buckets.changed(), the firings and the events' cursor in one transaction

A port of Prefect's ``prefect.server.events.triggers``: each event trigger keeps one
window (``Bucket``) per value of its ``for_each`` labels. ``react`` counts an event in its
window, opening it on an ``after`` event (or on the first expected event without one); a
reactive trigger fires as soon as ``threshold`` events are in, a proactive one once its
window has ended with fewer. ``expire`` ends the windows whose time is up: that is when
proactive triggers fire (an SLA missed), and when a proactive trigger without ``after``
starts its next window. Windows are in the events' time (``occurred``); ``expire`` waits
``grace`` past a window's end for events that are written late.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from kernel_ext.automations import Automation, EventTrigger, Posture
from kernel_ext.events import Event
from papermill_bridge.automations._buckets import Bucket, BucketKey, Buckets
from papermill_bridge.automations._composite import drop_stale_children, parents_of, propagate
from papermill_bridge.automations._firings import Firing

__all__ = [
    "DEFAULT_GRACE",
    "EXPIRED_BUCKET_BUFFER",
    "PRECEDING_EVENT_LOOKBACK",
    "causal_order",
    "expire",
    "react",
]

# Prefect's: the first window of a trigger without ``after`` reaches this far back, so
# events that arrive out of order still count in it.
PRECEDING_EVENT_LOOKBACK = timedelta(minutes=15)
# Prefect's: an ended reactive window is forgotten this long after its end.
EXPIRED_BUCKET_BUFFER = timedelta(seconds=60)
# How long past a window's end ``expire`` waits for an event that occurred in time but
# is written late: the store's writer commits every 50 ms, and retries for a few seconds
# when the connection flickers. Longer delays an SLA's alert; shorter risks a false one.
DEFAULT_GRACE = timedelta(seconds=5)


def react(automation: Automation, event: Event, buckets: Buckets, now: datetime) -> list[Firing]:
    """Count ``event`` in the windows of the automation's triggers that cover it; the
    firings of the automation that result (``now`` is when they are noticed)."""
    if not automation.enabled:
        return []
    automation_id = _id_of(automation)
    parents = parents_of(automation)
    firings: list[Firing] = []
    for trigger in _event_triggers(automation):
        if trigger.covers(event):
            fired = _react(automation_id, trigger, event, buckets, now)
            if fired is not None:
                firings.extend(propagate(fired, parents, buckets))
    return firings


def expire(
    automation: Automation, buckets: Buckets, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> list[Firing]:
    """End the windows that ended ``grace`` before ``now``: the proactive firings that
    result, and the next windows of proactive triggers without ``after``."""
    if not automation.enabled:
        return []
    automation_id = _id_of(automation)
    as_of = now - grace
    parents = parents_of(automation)
    drop_stale_children(automation, parents, buckets, as_of)
    firings: list[Firing] = []
    for trigger in _event_triggers(automation):
        if trigger.posture is Posture.Proactive:
            for fired in _expire(automation_id, trigger, buckets, as_of, now):
                firings.extend(propagate(fired, parents, buckets))
        else:
            _sweep(automation_id, trigger, buckets, as_of - EXPIRED_BUCKET_BUFFER)
    return firings


def causal_order(events: Iterable[Event]) -> list[Event]:
    """``events`` by the time they occurred, each after the event it ``follows`` if that is
    among them (Prefect's causal ordering, within one batch)."""
    ordered = sorted(events, key=lambda event: event.occurred)
    present = {event.id for event in ordered}
    emitted: set[object] = set()
    waiting: dict[object, list[Event]] = defaultdict(list)
    result: list[Event] = []

    def emit(event: Event) -> None:
        result.append(event)
        emitted.add(event.id)
        for follower in waiting.pop(event.id, []):
            emit(follower)

    for event in ordered:
        leader = event.follows
        if leader is not None and leader in present and leader not in emitted:
            waiting[leader].append(event)
        else:
            emit(event)
    result.extend(event for followers in waiting.values() for event in followers)
    return result


def _react(
    automation_id: str, trigger: EventTrigger, event: Event, buckets: Buckets, now: datetime
) -> Firing | None:
    """Prefect's ``reactive_evaluation`` for one trigger."""
    key: BucketKey = (automation_id, str(trigger.id), trigger.bucketing_key(event))
    bucket = None
    if trigger.after and trigger.starts_after(event.event):
        # An event both `after` and expected opens a window without counting in it.
        initial = -1 if trigger.expects(event.event) else 0
        end = event.occurred + trigger.within
        bucket = _ensure(buckets, key, event.occurred, end, event, initial)
    if bucket is None and not trigger.after and trigger.expects(event.event):
        start = event.occurred - PRECEDING_EVENT_LOOKBACK
        bucket = _ensure(buckets, key, start, event.occurred + trigger.within, event)
    if not trigger.expects(event.event):
        return None
    bucket = bucket or buckets.get(key)
    if bucket is None:
        return None
    return _evaluate(trigger, key, bucket, buckets, event.occurred, event, now)


def _expire(
    automation_id: str, trigger: EventTrigger, buckets: Buckets, as_of: datetime, now: datetime
) -> list[Firing]:
    """Prefect's ``proactive_evaluation`` for one trigger, as of ``as_of``."""
    if not trigger.for_each and not trigger.after:
        key: BucketKey = (automation_id, str(trigger.id), "")
        _ensure(buckets, key, as_of, as_of + trigger.within, None)
    firings = []
    for key, bucket in buckets.of_trigger(automation_id, str(trigger.id)):
        if bucket.end <= as_of:
            fired = _evaluate(trigger, key, bucket, buckets, as_of, None, now)
            if fired is not None:
                firings.append(fired)
    return firings


def _evaluate(
    trigger: EventTrigger,
    key: BucketKey,
    bucket: Bucket,
    buckets: Buckets,
    moment: datetime,
    event: Event | None,
    now: datetime,
) -> Firing | None:
    """Prefect's ``evaluate``: count ``event`` (if any) at ``moment`` in ``bucket``, fire
    if the trigger is satisfied, and open the next window when this one is done."""
    unspent = event is not None
    if moment < bucket.start:
        return None  # a late event for a window that already fired, or an older one
    if unspent and (trigger.immediate or bucket.start <= moment < bucket.end):
        bucket = buckets.put(key, replace(bucket, count=bucket.count + 1, last_event=event))
        unspent = False
    ready = trigger.posture is Posture.Reactive or bucket.end <= moment
    met = trigger.meets_threshold(bucket.count)
    firing = None
    if ready and met:
        firing = _firing(trigger, key, bucket, event, now)
        buckets.remove(key)
    elif moment < bucket.end:
        if event is not None and _restarts(trigger, event, met):
            # A heartbeat: the same event starts the wait again (Prefect's special case).
            end = event.occurred + trigger.within
            buckets.put(key, Bucket(event.occurred, end, 0, event))
        return None
    if trigger.after:
        buckets.remove(key)
        return firing
    if trigger.within == timedelta(0):
        return firing
    start = max(bucket.end, moment)
    if trigger.posture is Posture.Reactive and unspent and firing is None:
        # An event past the window: it counts in the next one, which may fire at once.
        fresh = buckets.put(key, Bucket(start, start + trigger.within, 0))
        return _evaluate(trigger, key, fresh, buckets, moment, event, now)
    buckets.put(key, Bucket(start, start + trigger.within, 1 if unspent else 0))
    return firing


def _restarts(trigger: EventTrigger, event: Event, met: bool) -> bool:
    return (
        trigger.posture is Posture.Proactive
        and not met
        and trigger.starts_after(event.event)
        and trigger.expects(event.event)
    )


def _firing(
    trigger: EventTrigger, key: BucketKey, bucket: Bucket, event: Event | None, now: datetime
) -> Firing:
    """A firing keyed by what fired: the event for a reactive trigger (one event fires
    a trigger once), the window for a proactive one (a window fires once)."""
    automation_id, trigger_id, bucketing_key = key
    if trigger.posture is Posture.Reactive and event is not None:
        firing_key, occurred = f"{trigger_id}:{event.id}", event.occurred
    else:
        firing_key = f"{trigger_id}:{bucketing_key}:{bucket.start.isoformat()}"
        occurred = bucket.end
    return Firing(
        automation_id=automation_id,
        trigger_id=trigger_id,
        firing_key=firing_key,
        fired=now,
        occurred=occurred,
        triggering_event=event or bucket.last_event,
        triggering_labels=trigger.labels_of(bucketing_key),
    )


def _ensure(
    buckets: Buckets,
    key: BucketKey,
    start: datetime,
    end: datetime,
    event: Event | None,
    initial: int = 0,
) -> Bucket:
    """The open window under ``key``, or a new one; an existing window only takes
    ``event`` as its latest."""
    existing = buckets.get(key)
    if existing is None:
        return buckets.put(key, Bucket(start, end, initial, event))
    if event is not None:
        return buckets.put(key, replace(existing, last_event=event))
    return existing


def _sweep(automation_id: str, trigger: EventTrigger, buckets: Buckets, before: datetime) -> None:
    for key, bucket in buckets.of_trigger(automation_id, str(trigger.id)):
        if bucket.end <= before:
            buckets.remove(key)


def _event_triggers(automation: Automation) -> list[EventTrigger]:
    return [t for t in automation.triggers() if isinstance(t, EventTrigger)]


def _id_of(automation: Automation) -> str:
    if automation.id is None:
        raise ValueError(
            f"Automation {automation.name!r} has no id: evaluate automations read from the "
            "store (Automation.from_record)"
        )
    return str(automation.id)
