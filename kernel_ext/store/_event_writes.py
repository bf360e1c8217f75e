"""Events recorded in the transaction of the change they tell of: deployments created,
updated, paused, resumed and deleted, schedules changed, paused runs answered.

In the same transaction, so an event is there exactly when its change is: none for a
change rolled back, none missing for one committed. (User code's events and state changes
go through the batched writer instead: see ``_rows`` and ``_event_reads``.)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from kernel_ext.store._tables import events

__all__ = ["deployment_resource", "record_event", "related_resource"]


def record_event(
    connection: Connection,
    event: str,
    resource: Mapping[str, str],
    related: Sequence[Mapping[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
) -> None:
    connection.execute(
        insert(events).values(
            id=str(uuid.uuid4()),
            occurred=datetime.now(UTC),
            event=event,
            resource_id=resource["prefect.resource.id"],
            resource=dict(resource),
            related=[dict(item) for item in related] or None,
            payload=dict(payload) if payload else None,
        )
    )


def deployment_resource(deployment_id: str, name: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect.deployment.{deployment_id}",
        "prefect.resource.name": name,
    }


def related_resource(resource_id: str, role: str, name: str | None = None) -> dict[str, str]:
    """A related resource's labels (the readers' state events use it too)."""
    labels = {"prefect.resource.id": resource_id, "prefect.resource.role": role}
    if name:
        labels["prefect.resource.name"] = name
    return labels
