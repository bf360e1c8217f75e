"""One evaluation step, as the store's evaluator calls it: rows in, rows out.

    store.evaluate_automations(holder, evaluate_batch, event_names)

The store reads the enabled automations, the new events and the open windows under its
lease, and writes back what this returns (the windows changed, the new firings) in the
same transaction. Here they become the evaluator's values (``Automation``, ``Event``,
``Bucket``) and back; the evaluation itself is ``react`` and ``expire``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pydantic import ValidationError

from kernel_ext.automations import Automation, EventTrigger
from kernel_ext.events import Event
from papermill_bridge.automations._buckets import Bucket, BucketKey, Buckets
from papermill_bridge.automations._evaluate import DEFAULT_GRACE, causal_order, expire, react
from papermill_bridge.automations._firings import Firing

__all__ = ["StepOutcome", "bucket_from_row", "bucket_to_row", "evaluate_batch", "event_names"]

logger = logging.getLogger("taskbook.automations")

_GLOB = set("*?[")


class _Read(Protocol):
    @property
    def stream(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def event(self) -> Event: ...


class _Batch(Protocol):
    """What the store hands a step (its ``EvaluationBatch``)."""

    @property
    def automations(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def events(self) -> Sequence[_Read]: ...
    @property
    def buckets(self) -> Mapping[BucketKey, Mapping[str, Any]]: ...
    @property
    def now(self) -> datetime: ...
    @property
    def caught_up(self) -> bool: ...


class StepOutcome(NamedTuple):
    """What the store writes back (its ``EvaluationOutcome``): the windows changed
    (``None``: closed) and the new firings."""

    buckets: dict[BucketKey, dict[str, Any] | None]
    firings: list[dict[str, Any]]


def evaluate_batch(
    batch: _Batch, *, grace: timedelta = DEFAULT_GRACE, caught_up: bool | None = None
) -> StepOutcome:
    """React to the batch's events, then end the windows due by ``batch.now``. When the
    step did not read every waiting event (``batch.caught_up`` false, unless
    ``caught_up`` says otherwise), windows end only up to the last event read: an event
    still unread may be the one a window waits for."""
    if caught_up is None:
        caught_up = batch.caught_up
    pairs = _automations_of(batch.automations)
    automations = [automation for automation, _ in pairs]
    buckets = Buckets({key: bucket_from_row(row) for key, row in batch.buckets.items()})
    read_at = {read.event.id: (read.stream, read.position) for read in batch.events}
    events = causal_order(read.event for read in batch.events)
    firings: list[Firing] = []
    for event in events:
        stream, position = read_at[event.id]
        for automation, record in pairs:
            if _after_start(record, stream, position):
                firings.extend(react(automation, event, buckets, batch.now))
    until = batch.now
    if not caught_up and events:
        until = min(until, max(event.occurred for event in events) + grace)
    for automation in automations:
        firings.extend(expire(automation, buckets, until, grace))
    changed = {
        key: None if bucket is None else bucket_to_row(bucket)
        for key, bucket in buckets.changed().items()
    }
    return StepOutcome(changed, [_new_firing(firing) for firing in firings])


def event_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The event-name patterns the automations may react to, for the store to read only
    those state changes: a superset, ``[]`` for all (the evaluator matches exactly)."""
    patterns: set[str] = set()
    for automation in _automations(records):
        for trigger in automation.triggers():
            if not isinstance(trigger, EventTrigger):
                continue
            if not trigger.expect:
                return []
            for pattern in trigger.expect | trigger.after:
                widened = _prefix_pattern(pattern)
                if widened is None:
                    return []
                patterns.add(widened)
    return sorted(patterns)


def _prefix_pattern(pattern: str) -> str | None:
    """``pattern`` as an exact name or a trailing-``*`` prefix covering at least what it
    matches; None when only "every event" covers it (a negation, a leading glob)."""
    if pattern.startswith("!"):
        return None
    first = next((i for i, char in enumerate(pattern) if char in _GLOB), None)
    if first is None:
        return pattern
    return None if first == 0 else pattern[:first] + "*"


def bucket_to_row(bucket: Bucket) -> dict[str, Any]:
    """A bucket as the store's ``automation_buckets`` row keeps it."""
    record = bucket.to_record()
    firing = record["firing"]
    return {
        "opened": bucket.start,
        "closes": bucket.end,
        "count": bucket.count,
        "last_event": record["last_event"],
        "state": None if firing is None else {"firing": firing},
    }


def bucket_from_row(row: Mapping[str, Any]) -> Bucket:
    state = row.get("state") or {}
    return Bucket.from_record(
        {
            "start": row["opened"],
            "end": row["closes"],
            "count": row["count"],
            "last_event": row.get("last_event"),
            "firing": state.get("firing"),
        }
    )


def _new_firing(firing: Firing) -> dict[str, Any]:
    record = firing.to_record()
    return {
        "automation_id": firing.automation_id,
        "firing_key": firing.firing_key,
        "fired": firing.fired,
        "triggering_event": record["triggering_event"],
        "firing": record,
    }


def _after_start(record: Mapping[str, Any], stream: str, position: int) -> bool:
    """Whether an event read at ``position`` of ``stream`` came after the automation was
    made, resumed or given its trigger (it reacts to those only, as in Prefect)."""
    start = record.get("state_from" if stream == "state" else "event_from") or 0
    return position > int(start)


def _automations(records: Sequence[Mapping[str, Any]]) -> list[Automation]:
    return [automation for automation, _ in _automations_of(records)]


def _automations_of(
    records: Sequence[Mapping[str, Any]],
) -> list[tuple[Automation, Mapping[str, Any]]]:
    """The automations the records hold, each with its record; one that no longer
    validates is skipped, with a warning, rather than stopping every other automation."""
    automations = []
    for record in records:
        try:
            automations.append((Automation.from_record(record), record))
        except ValidationError as error:
            logger.warning(
                "Automation %r is not valid and is not evaluated: %s",
                record.get("name"),
                error.errors(include_url=False)[0].get("msg"),
            )
    return automations
