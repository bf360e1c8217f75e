"""Buckets: the open windows of the triggers, as plain values the store can keep.

A ``Bucket`` counts the expected events of one trigger, for one value of its
``for_each`` labels, between ``start`` and ``end`` (Prefect's automation buckets). The
children's firings a compound or sequence trigger is waiting on are kept the same way,
under the key ``child:<trigger id>``, with the firing itself.

``Buckets`` holds them in memory for one evaluation and tracks what changed: the scheduler
loads them from the store at the start of a tick, the evaluator reads and replaces them,
and ``changed()`` says what to write back (``None`` for removed), in the same transaction
as the firings and the events' cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kernel_ext.events import Event
from papermill_bridge.automations._firings import Firing

__all__ = ["Bucket", "BucketKey", "Buckets"]

BucketKey = tuple[str, str, str]
"""(automation id, trigger id, bucketing key)."""

CHILD_PREFIX = "child:"


@dataclass(frozen=True)
class Bucket:
    """A window of a trigger: ``count`` expected events seen between ``start`` and ``end``;
    ``last_event`` is the latest that concerned it (a proactive firing's event)."""

    start: datetime
    end: datetime
    count: int
    last_event: Event | None = None
    firing: Firing | None = None
    """For a child's firing kept by a compound or sequence trigger: that firing."""

    def to_record(self) -> dict[str, Any]:
        """The bucket as JSON values, for the store."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "count": self.count,
            "last_event": None if self.last_event is None else self.last_event.to_json(),
            "firing": None if self.firing is None else self.firing.to_record(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Bucket:
        last_event, firing = record.get("last_event"), record.get("firing")
        return cls(
            start=_moment(record["start"]),
            end=_moment(record["end"]),
            count=int(record["count"]),
            last_event=None if last_event is None else Event.model_validate(last_event),
            firing=None if firing is None else Firing.from_record(firing),
        )


def _moment(value: Any) -> datetime:
    """An aware datetime (SQLite gives naive UTC ones back)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Buckets:
    """The buckets of one evaluation, and which of them changed since they were loaded."""

    def __init__(self, loaded: Mapping[BucketKey, Bucket] | None = None) -> None:
        self._buckets: dict[BucketKey, Bucket] = dict(loaded or {})
        self._changed: dict[BucketKey, Bucket | None] = {}
        # By trigger, so one trigger's buckets are found without reading every other
        # trigger's (a for_each per run can hold thousands).
        self._by_trigger: dict[tuple[str, str], dict[BucketKey, Bucket]] = {}
        for key, bucket in self._buckets.items():
            self._by_trigger.setdefault(key[:2], {})[key] = bucket

    def get(self, key: BucketKey) -> Bucket | None:
        return self._buckets.get(key)

    def put(self, key: BucketKey, bucket: Bucket) -> Bucket:
        self._buckets[key] = bucket
        self._by_trigger.setdefault(key[:2], {})[key] = bucket
        self._changed[key] = bucket
        return bucket

    def remove(self, key: BucketKey) -> None:
        self._by_trigger.get(key[:2], {}).pop(key, None)
        if self._buckets.pop(key, None) is not None or key in self._changed:
            self._changed[key] = None

    def of_trigger(self, automation_id: str, trigger_id: str) -> list[tuple[BucketKey, Bucket]]:
        """The buckets of one trigger, the oldest first."""
        found = list(self._by_trigger.get((automation_id, trigger_id), {}).items())
        return sorted(found, key=lambda item: (item[1].start, item[0][2]))

    def changed(self) -> dict[BucketKey, Bucket | None]:
        """What to write back: each changed key's bucket, or ``None`` to delete it."""
        return dict(self._changed)

    def mark_saved(self) -> None:
        """Forget the changes (they were written)."""
        self._changed.clear()

    def __iter__(self) -> Iterator[BucketKey]:
        return iter(list(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets
