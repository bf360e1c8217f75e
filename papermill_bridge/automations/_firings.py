"""``Firing``: one time a trigger fired, and what made it fire.

The evaluator returns firings; the scheduler writes each to the store's outbox under its
``firing_key`` and runs the automation's actions from there. The key is derived from what
fired (the trigger, the window, the event), never from the clock or a random id, so
evaluating the same events twice yields the same keys and the outbox keeps one of each:
an automation fires once per triggering event, whichever scheduler evaluates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kernel_ext.events import Event

__all__ = ["Firing"]


@dataclass(frozen=True)
class Firing:
    """A trigger of an automation fired; for a compound or sequence trigger, because of
    ``triggering_firings`` (its children's firings, oldest first)."""

    automation_id: str
    trigger_id: str
    firing_key: str
    fired: datetime
    """When the evaluator noticed (the wall clock, as Prefect's ``triggered``)."""
    occurred: datetime
    """When the condition was met, in the events' time: the triggering event's time, or
    the end of the window that stayed empty. Compound windows and sequences use it, so a
    backlog evaluated late gives the same answer as one evaluated live."""
    triggering_event: Event | None
    triggering_labels: dict[str, str] = field(default_factory=dict)
    triggering_firings: tuple[Firing, ...] = ()

    def all_events(self) -> list[Event]:
        """The events behind this firing and its children's, this one's first."""
        own = [self.triggering_event] if self.triggering_event is not None else []
        return own + [event for child in self.triggering_firings for event in child.all_events()]

    def to_record(self) -> dict[str, Any]:
        """The firing as JSON values, for the store."""
        event = self.triggering_event
        return {
            "automation_id": self.automation_id,
            "trigger_id": self.trigger_id,
            "firing_key": self.firing_key,
            "fired": self.fired.isoformat(),
            "occurred": self.occurred.isoformat(),
            "triggering_event": None if event is None else event.to_json(),
            "triggering_labels": dict(self.triggering_labels),
            "triggering_firings": [child.to_record() for child in self.triggering_firings],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Firing:
        event = record.get("triggering_event")
        return cls(
            automation_id=str(record["automation_id"]),
            trigger_id=str(record["trigger_id"]),
            firing_key=str(record["firing_key"]),
            fired=datetime.fromisoformat(record["fired"]),
            occurred=datetime.fromisoformat(record["occurred"]),
            triggering_event=None if event is None else Event.model_validate(event),
            triggering_labels=dict(record.get("triggering_labels") or {}),
            triggering_firings=tuple(
                cls.from_record(child) for child in record.get("triggering_firings") or ()
            ),
        )
