"""Events: what happened to which resource, in the store, as Prefect 3 has them.

    from kernel_ext.events import emit_event      # or: from prefect.events import emit_event

    emit_event(
        event="warehouse.file.arrived",
        resource={"prefect.resource.id": "warehouse.file.sales-2026-12-03.csv"},
        payload={"path": "s3://landing/sales-2026-12-03.csv"},
    )

Every state change of a flow run or a task run is an event too (``prefect.flow-run.Completed``,
``prefect.task-run.Failed``, ...), and so are the changes to deployments and schedules and
the answers to paused runs: ``taskbook events ls`` lists them all, and automations react to
them (``kernel_ext.automations``). This module is the events' model and the way user code
emits its own; the engine's internal stream of states and logs is ``kernel_ext._events``.

A custom event goes to the store's batched writer, like states: ``emit_event`` costs a few
microseconds and returns at once; the event is durable once the writer commits (when the
flow returns, or at ``get_store().flush()``). Inside a flow or a task run, its runs, flow
and tags are added to the related resources, as Prefect's event worker does.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from kernel_ext._errors import EventTooLarge

__all__ = [
    "Event",
    "RelatedResource",
    "Resource",
    "emit_event",
    "matches",
]

logger = logging.getLogger("taskbook.events")

# Prefect's limits (PREFECT_EVENTS_MAXIMUM_LABELS_PER_RESOURCE, ..._RELATED_RESOURCES,
# PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES).
MAXIMUM_LABELS_PER_RESOURCE = 500
MAXIMUM_RELATED_RESOURCES = 500
MAXIMUM_SIZE_BYTES = 1_500_000
# A ``follows`` further apart than this says nothing about the order; Prefect drops it.
_TIGHT_TIMING = timedelta(minutes=5)


class Resource(RootModel[dict[str, str]]):
    """An observable object, as labels; ``prefect.resource.id`` names it."""

    @model_validator(mode="after")
    def _check(self) -> Resource:
        if len(self.root) > MAXIMUM_LABELS_PER_RESOURCE:
            raise ValueError(
                f"The maximum number of labels per resource is {MAXIMUM_LABELS_PER_RESOURCE}"
            )
        if not self.root.get("prefect.resource.id"):
            raise ValueError("Resources must include the prefect.resource.id label")
        return self

    @property
    def id(self) -> str:
        return self.root["prefect.resource.id"]

    @property
    def name(self) -> str | None:
        return self.root.get("prefect.resource.name")

    def __getitem__(self, label: str) -> str:
        return self.root[label]

    def __contains__(self, label: object) -> bool:
        return label in self.root

    def get(self, label: str, default: str | None = None) -> str | None:
        return self.root.get(label, default)

    def keys(self) -> Any:
        return self.root.keys()

    def items(self) -> Any:
        return self.root.items()

    def has_all_labels(self, labels: Mapping[str, str]) -> bool:
        return all(self.root.get(label) == value for label, value in labels.items())


class RelatedResource(Resource):
    """A resource with a role in an event (``prefect.resource.role``: flow, tag, ...)."""

    @model_validator(mode="after")
    def _check_role(self) -> RelatedResource:
        if not self.root.get("prefect.resource.role"):
            raise ValueError("Related Resources must include the prefect.resource.role label")
        return self

    @property
    def role(self) -> str:
        return self.root["prefect.resource.role"]


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Something that happened to a resource (Prefect's ``Event``)."""

    model_config = ConfigDict(extra="ignore")

    occurred: datetime = Field(default_factory=_now)
    event: str
    resource: Resource
    related: list[RelatedResource] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    follows: uuid.UUID | None = None

    @model_validator(mode="after")
    def _check(self) -> Event:
        if len(self.related) > MAXIMUM_RELATED_RESOURCES:
            raise ValueError(
                f"The maximum number of related resources is {MAXIMUM_RELATED_RESOURCES}"
            )
        if self.occurred.tzinfo is None:
            self.occurred = self.occurred.replace(tzinfo=UTC)
        return self

    @property
    def involved_resources(self) -> Sequence[Resource]:
        return [self.resource, *self.related]

    @property
    def resource_in_role(self) -> Mapping[str, RelatedResource]:
        """The first related resource in each role."""
        return {related.role: related for related in reversed(self.related)}

    @property
    def resources_in_role(self) -> Mapping[str, Sequence[RelatedResource]]:
        resources: dict[str, list[RelatedResource]] = defaultdict(list)
        for related in self.related:
            resources[related.role].append(related)
        return resources

    def find_resource_label(self, label: str) -> str | None:
        """The label's value on the resource, or with ``related:ROLE:LABEL`` on the first
        related resource in that role."""
        directive, _, related_label = label.rpartition(":")
        directive, _, role = directive.partition(":")
        if directive == "related":
            for related in self.related:
                if related.role == role:
                    return related.get(related_label)
        return self.resource.get(label)

    @property
    def size_bytes(self) -> int:
        return len(self.model_dump_json().encode())

    def to_json(self) -> dict[str, Any]:
        """The event as JSON values (what the store keeps, the CLI and REST show)."""
        return self.model_dump(mode="json")


def matches(expected: str, value: str | None) -> bool:
    """Whether ``value`` matches ``expected``: exactly, by prefix with a trailing ``*``,
    and negated with a leading ``!`` (Prefect's label matching)."""
    if value is None:
        return False
    positive = not expected.startswith("!")
    if not positive:
        expected = expected[1:]
    found = value.startswith(expected[:-1]) if expected.endswith("*") else value == expected
    return found if positive else not found


def emit_event(
    event: str,
    resource: dict[str, str],
    occurred: datetime | None = None,
    related: list[dict[str, str]] | list[RelatedResource] | None = None,
    payload: dict[str, Any] | None = None,
    id: uuid.UUID | None = None,
    follows: Event | None = None,
    **kwargs: Any,
) -> Event | None:
    """Record an event (Prefect's ``emit_event``); returns it.

    Written by the store's batched writer, so this returns at once. As in Prefect, an
    event that is not valid (a resource without ``prefect.resource.id``, a related
    resource without a role) is not emitted: the reason is logged as one error line and
    None returned, so telemetry never breaks a flow; one over the size limit raises
    ``EventTooLarge``.
    """
    occurred = occurred or _now()
    fields: dict[str, Any] = {"event": event, "resource": resource, "occurred": occurred}
    fields.update(kwargs)
    if payload is not None:
        fields["payload"] = payload
    if id is not None:
        fields["id"] = id
    if follows is not None and abs(_aware(occurred) - _aware(follows.occurred)) < _TIGHT_TIMING:
        fields["follows"] = follows.id
    fields["related"] = _with_run_context(list(related or []))
    try:
        emitted = Event(**fields)
    except ValueError as error:
        logger.error(_first_error(error, event))
        return None
    size = emitted.size_bytes
    if size > MAXIMUM_SIZE_BYTES:
        raise EventTooLarge(size, MAXIMUM_SIZE_BYTES)
    from kernel_ext.store import get_store

    get_store().submit_event(emitted)
    return emitted


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first_error(error: ValueError, event: str) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", error)).removeprefix("Value error, ")
        return f"Event {event!r} was not emitted: {where + ': ' if where else ''}{message}."
    return f"Event {event!r} was not emitted: {error}."


def _with_run_context(related: list[Any]) -> list[Any]:
    """``related`` and the current runs, flow and tags, as Prefect's event worker adds
    them (the ones the caller named already are not added twice)."""
    from kernel_ext._context import current_flow_run, task_run_context

    flow_context = current_flow_run()
    task_context = task_run_context.get()
    named = {_resource_id(item) for item in related}
    added: list[dict[str, str]] = []
    tags: list[str] = []
    if flow_context is not None:
        run = flow_context.flow_run
        added.append(_related(f"prefect.flow-run.{run.id}", "flow-run", run.name))
        added.append(_related(f"prefect.flow.{run.flow_name}", "flow", run.flow_name))
        tags.extend(run.tags)
    if task_context is not None:
        task_run = task_context.task_run
        added.append(_related(f"prefect.task-run.{task_run.id}", "task-run", task_run.name))
        tags.extend(task_run.tags)
    if flow_context is not None:
        added.extend(_deployment_related())
    for tag in dict.fromkeys(tags):
        added.append(_related(f"prefect.tag.{tag}", "tag"))
    return related + [item for item in added if item["prefect.resource.id"] not in named]


def _deployment_related() -> list[dict[str, str]]:
    """The deployment of the run this process executes, if it is a deployment run (read
    once per run)."""
    from kernel_ext.runtime import deployment

    try:
        deployment_id = deployment.get_id()
    except Exception:  # the store is unreachable: the event still goes out
        return []
    if deployment_id is None:
        return []
    return [_related(f"prefect.deployment.{deployment_id}", "deployment", deployment.get_name())]


def _resource_id(item: Any) -> str | None:
    if isinstance(item, RelatedResource):
        return item.id
    return item.get("prefect.resource.id") if isinstance(item, Mapping) else None


def _related(resource_id: str, role: str, name: str | None = None) -> dict[str, str]:
    labels = {"prefect.resource.id": resource_id, "prefect.resource.role": role}
    if name is not None:
        labels["prefect.resource.name"] = name
    return labels
