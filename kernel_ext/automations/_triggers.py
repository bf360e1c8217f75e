"""Triggers: when an automation fires (Prefect's ``prefect.events.schemas.automations``).

    EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id":
                 "prefect.flow-run.*"}, posture="Reactive", threshold=1)
    EventTrigger(after={"prefect.flow-run.Running"}, expect={"prefect.flow-run.Completed"},
                 for_each={"prefect.resource.id"}, posture="Proactive", within=600)
    CompoundTrigger(require="all", triggers=[...], within=3600)
    SequenceTrigger(triggers=[first, then], within=3600)

A reactive trigger fires when ``threshold`` expected events arrive within ``within``; a
proactive one when fewer than ``threshold`` arrive within ``within`` of its ``after``
event (or of every window, without one). Each trigger has an ``id`` kept with the
automation, which names its windows in the store. How they are evaluated is in
``papermill_bridge.automations``; these are the definitions, their validation and the
pure questions the evaluator asks them (does this event concern you, in which window).
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Sequence
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_serializer,
    field_validator,
    model_validator,
)

from kernel_ext.automations._resources import ResourceSpecification, glob_matches

if TYPE_CHECKING:
    from kernel_ext.events import Event

__all__ = [
    "CompositeTrigger",
    "CompoundTrigger",
    "EventTrigger",
    "Posture",
    "ResourceTrigger",
    "SequenceTrigger",
    "Trigger",
    "TriggerTypes",
]

# Prefect's floor for a proactive window: shorter ones would fire on the evaluator's jitter.
MINIMUM_PROACTIVE_WITHIN = timedelta(seconds=10)


class Posture(str, Enum):
    """Reactive triggers respond to the presence of events, proactive ones to their absence."""

    Reactive = "Reactive"
    Proactive = "Proactive"


class Trigger(BaseModel):
    """The criteria an automation fires on; ``id`` is stable once the automation is saved."""

    model_config = ConfigDict(extra="forbid")

    type: str
    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="The ID of this trigger")

    def all_triggers(self) -> Sequence[Trigger]:
        """This trigger and every trigger inside it, depth first."""
        return [self]

    def describe_for_cli(self, indent: int = 0) -> str:
        raise NotImplementedError


class ResourceTrigger(Trigger):
    """A trigger that filters events by the labels of their resource and related ones."""

    match: ResourceSpecification = Field(
        default_factory=lambda: ResourceSpecification({}),
        description="Labels for resources which this trigger will match.",
    )
    match_related: ResourceSpecification | list[ResourceSpecification] = Field(
        default_factory=lambda: ResourceSpecification({}),
        description="Labels for related resources which this trigger will match.",
    )

    @field_validator("match", mode="before")
    @classmethod
    def _one_specification(cls, value: Any) -> Any:
        return _checked_specification(value, "")

    @field_validator("match_related", mode="before")
    @classmethod
    def _specifications(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_checked_specification(item, f"[{index}] ") for index, item in enumerate(value)]
        return _checked_specification(value, "")

    def covers_resources(self, event: Event) -> bool:
        """Whether the event's resource matches ``match`` and its related resources
        every specification of ``match_related``."""
        if not self.match.includes([event.resource]):
            return False
        specifications = self.match_related
        if not isinstance(specifications, list):
            specifications = [specifications]
        return all(spec.includes(event.related) for spec in specifications)


def _checked_specification(value: Any, where: str) -> Any:
    """``value`` if it is a mapping of labels to a pattern or a list of patterns; else a
    ``ValueError`` that says so (pydantic would report each branch of the union);
    ``where`` prefixes the message (``"[2] "`` for a list's item)."""
    if isinstance(value, ResourceSpecification):
        return value
    if not isinstance(value, dict):
        raise ValueError(
            f"{where}a resource specification is a mapping of labels to patterns, e.g. "
            f'{{"prefect.resource.id": "prefect.flow-run.*"}}; got {value!r}'
        )
    for label, patterns in value.items():
        listed = patterns if isinstance(patterns, list) else [patterns]
        if not all(isinstance(pattern, str) for pattern in listed):
            raise ValueError(
                f"{where}the pattern of {label!r} is a string or a list of strings; "
                f"got {patterns!r}"
            )
    return value


class EventTrigger(ResourceTrigger):
    """Fires on the presence (Reactive) or absence (Proactive) of events in a window."""

    type: Literal["event"] = "event"
    after: set[str] = Field(
        default_factory=set,
        description="The event(s) which must first been seen to fire this trigger. If "
        "empty, then fire this trigger immediately. Events may include wildcards, like "
        "`prefect.flow-run.*`",
    )
    expect: set[str] = Field(
        default_factory=set,
        description="The event(s) this trigger is expecting to see. If empty, this "
        "trigger will match any event. Events may include wildcards, like "
        "`prefect.flow-run.*`",
    )
    for_each: set[str] = Field(
        default_factory=set,
        description="Evaluate the trigger separately for each distinct value of these "
        "labels on the resource; `related:<role>:<label>` names a label of the first "
        "related resource in that role.",
    )
    posture: Posture = Field(
        default=Posture.Reactive,
        description="Reactive triggers respond to the _presence_ of the expected events, "
        "Proactive triggers to their _absence_.",
    )
    threshold: int = Field(
        default=1,
        description="The number of events required for this trigger to fire (Reactive), "
        "or the number of events expected (Proactive).",
    )
    within: timedelta = Field(
        default=timedelta(0),
        description="The time period over which the events must occur: as low as 0 "
        "seconds for Reactive triggers, at least 10 seconds for Proactive ones.",
    )

    @model_validator(mode="before")
    @classmethod
    def _proactive_window(cls, data: Any) -> Any:
        """Prefect's rule: a proactive window defaults to 10 s and is at least that."""
        if not isinstance(data, dict):
            return data
        if "within" in data and data["within"] is None:
            raise ValueError("`within` should be a duration, e.g. `within: 600` (seconds)")
        within = data.get("within")
        if isinstance(within, (int, float)) and not isinstance(within, bool):
            within = timedelta(seconds=within)
            data = {**data, "within": within}
        posture = data.get("posture")
        if posture in (Posture.Proactive, "Proactive"):
            if not within:
                data = {**data, "within": MINIMUM_PROACTIVE_WITHIN}
            elif isinstance(within, timedelta) and within < MINIMUM_PROACTIVE_WITHIN:
                raise ValueError(
                    "`within` for Proactive triggers must be greater than or equal to 10 "
                    f"seconds; got {within.total_seconds():g}"
                )
        return data

    @field_validator("posture", mode="before")
    @classmethod
    def _known_posture(cls, value: Any) -> Any:
        if value == "Metric":
            raise ValueError(
                "metric triggers are not supported; use a Reactive or Proactive event trigger"
            )
        return value

    @field_validator("within")
    @classmethod
    def _non_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"`within` cannot be negative; got {value.total_seconds():g} s")
        return value

    @model_validator(mode="after")
    def _threshold_can_be_met(self) -> EventTrigger:
        if self.threshold < 0:
            raise ValueError(f"`threshold` cannot be negative; got {self.threshold}")
        if self.posture is Posture.Proactive and self.threshold < 1:
            raise ValueError(
                "a Proactive trigger with `threshold: 0` can never fire (it fires when "
                "fewer than `threshold` events arrive); use `threshold: 1`"
            )
        return self

    @field_serializer("after", "expect", "for_each")
    def _sorted(self, value: set[str]) -> list[str]:
        return sorted(value)  # the stored JSON does not change from one process to the next

    def covers(self, event: Event) -> bool:
        """Whether the event concerns this trigger: its name is one it expects or
        starts after, and its resources match."""
        names = self.expect | self.after
        if self.expect and not any(glob_matches(name, event.event) for name in names):
            return False
        return self.covers_resources(event)

    @property
    def immediate(self) -> bool:
        """A reactive trigger without a window fires for every event."""
        return self.posture is Posture.Reactive and self.within == timedelta(0)

    def starts_after(self, event_name: str) -> bool:
        return any(glob_matches(name, event_name) for name in self.after)

    def expects(self, event_name: str) -> bool:
        return not self.expect or any(glob_matches(name, event_name) for name in self.expect)

    def bucketing_key(self, event: Event) -> str:
        """The window this event counts in: its values of ``for_each``'s labels, as
        JSON (``""`` without ``for_each``)."""
        if not self.for_each:
            return ""
        values = [event.find_resource_label(label) or "" for label in sorted(self.for_each)]
        return json.dumps(values)

    def labels_of(self, bucketing_key: str) -> dict[str, str]:
        """The ``for_each`` labels a window's key stands for (a firing's labels)."""
        if not bucketing_key:
            return {}
        return dict(zip(sorted(self.for_each), json.loads(bucketing_key), strict=True))

    def meets_threshold(self, count: int) -> bool:
        if self.posture is Posture.Reactive:
            return count >= self.threshold
        return count < self.threshold

    def describe_for_cli(self, indent: int = 0) -> str:
        expect = ", ".join(sorted(self.expect)) or "any event"
        if self.posture is Posture.Reactive:
            text = f"Reactive: expecting {self.threshold} of {expect}"
            if self.within:
                text += f" within {self.within}"
        else:
            text = f"Proactive: expecting {self.threshold} {expect} within {self.within}"
            if self.after:
                text += f" after {', '.join(sorted(self.after))}"
        if self.for_each:
            text += f", for each {', '.join(sorted(self.for_each))}"
        return textwrap.indent(text, "  " * indent)


class CompositeTrigger(Trigger):
    """Fires when some of its triggers have fired, within ``within`` of each other."""

    type: Literal["compound", "sequence"]
    triggers: list[TriggerTypes]
    within: timedelta | None = Field(
        default=None, description="The time period over which the triggers must fire."
    )

    @field_validator("triggers")
    @classmethod
    def _not_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("a compound or sequence trigger needs at least one trigger")
        return value

    @field_validator("within", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = timedelta(seconds=value)
        if isinstance(value, timedelta) and value < timedelta(0):
            raise ValueError(f"`within` cannot be negative; got {value.total_seconds():g} s")
        return value

    def all_triggers(self) -> Sequence[Trigger]:
        return [self, *(inner for child in self.triggers for inner in child.all_triggers())]

    @property
    def num_expected_firings(self) -> int:
        return len(self.triggers)

    def _describe_children(self, heading: str, indent: int) -> str:
        children = "\n".join(t.describe_for_cli(indent=indent + 1) for t in self.triggers)
        return textwrap.indent(heading, "  " * indent) + "\n" + children


class CompoundTrigger(CompositeTrigger):
    """Fires when ``require`` of its triggers ("any", "all" or a number) have fired."""

    type: Literal["compound"] = "compound"
    require: Union[int, Literal["any", "all"]]

    @model_validator(mode="after")
    def _require_in_range(self) -> CompoundTrigger:
        if isinstance(self.require, int):
            if self.require < 1:
                raise ValueError(f"require must be at least 1; got {self.require}")
            if self.require > len(self.triggers):
                raise ValueError(
                    f"require must be less than or equal to the number of triggers "
                    f"({len(self.triggers)}); got {self.require}"
                )
        return self

    @property
    def num_expected_firings(self) -> int:
        if self.require == "any":
            return 1
        if self.require == "all":
            return len(self.triggers)
        return int(self.require)

    def describe_for_cli(self, indent: int = 0) -> str:
        return self._describe_children(f"{str(self.require).capitalize()} of:", indent)


class SequenceTrigger(CompositeTrigger):
    """Fires when all of its triggers have fired, in their order."""

    type: Literal["sequence"] = "sequence"

    def describe_for_cli(self, indent: int = 0) -> str:
        return self._describe_children("In this order:", indent)


def trigger_discriminator(value: Any) -> str:
    """Prefect's: the ``type`` if given, else guessed from the fields (``event`` by default)."""
    if isinstance(value, dict):
        if "type" in value:
            return str(value["type"])
        if "triggers" in value:
            return "compound" if "require" in value else "sequence"
        return "event"
    return str(getattr(value, "type", "event"))


TriggerTypes = Annotated[
    Union[
        Annotated[EventTrigger, Tag("event")],
        Annotated[CompoundTrigger, Tag("compound")],
        Annotated[SequenceTrigger, Tag("sequence")],
    ],
    Discriminator(trigger_discriminator),
]

CompoundTrigger.model_rebuild()
SequenceTrigger.model_rebuild()
