"""Automations and their firings, as rows: what ``Automation.create()``, ``taskbook
automations`` and the REST API read and write, and the firings outbox the schedulers
drain.

A firing is inserted once (``INSERT ... ON CONFLICT DO NOTHING`` on its automation and
key), then claimed by one scheduler at a time: a claim is a conditional ``UPDATE`` that
only one of several racing processes wins, on SQLite and PostgreSQL alike, and it expires,
so the firing of a scheduler that died is taken up by the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import AutomationExists, AutomationNotFound
from kernel_ext.store._tables import (
    automation_buckets,
    automation_evaluator,
    automation_firings,
    automations,
    events,
    state_history,
)
from kernel_ext.store._types import dialect_insert, isoformat
from kernel_ext.store.records import AutomationRecord, FiringRecord

__all__ = [
    "claim_firings",
    "create_automation",
    "create_automations",
    "delete_automation",
    "find_automation",
    "finish_firing",
    "insert_firings",
    "list_automations",
    "list_firings",
    "read_automation",
    "update_automation",
]

PENDING, DONE, FAILED = "pending", "done", "failed"
_FIELDS = (
    "name",
    "description",
    "enabled",
    "trigger",
    "actions",
    "actions_on_trigger",
    "actions_on_resolve",
)


def create_automation(connection: Connection, record: Mapping[str, Any]) -> AutomationRecord:
    now = datetime.now(UTC)
    values = {field: record.get(field) for field in _FIELDS}
    values["enabled"] = bool(record.get("enabled", True))
    automation_id = str(record.get("id") or uuid.uuid4())
    statement = _upsert(connection)(automations).values(
        id=automation_id, created=now, updated=now, **values, **_stream_ends(connection)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that may do nothing.
    inserted = statement.on_conflict_do_nothing().returning(automations.c.id)
    if connection.execute(inserted).first() is None:
        raise AutomationExists(
            f"An automation named {values['name']!r} exists already; pick another name, "
            f"or `taskbook automations delete {values['name']}` first.",
            name=values["name"],
        )
    _touch_evaluator(connection)
    return read_automation(connection, automation_id)


def create_automations(
    connection: Connection, records: Sequence[Mapping[str, Any]]
) -> list[AutomationRecord]:
    """Create every one of ``records`` in this one transaction, or none."""
    return [create_automation(connection, record) for record in records]


def update_automation(
    connection: Connection, name_or_id: str, fields: Mapping[str, Any]
) -> AutomationRecord:
    row = _find(connection, name_or_id)
    # Only what changes is written: a pause of a paused automation changes nothing, and
    # does not make a scheduler's step in flight start again.
    changes: dict[str, Any] = {
        field: fields[field] for field in _FIELDS if field in fields and fields[field] != row[field]
    }
    resumed = changes.get("enabled") is True
    if resumed or "trigger" in changes:
        changes.update(_stream_ends(connection))  # it reacts to what comes from now on
        # The windows it had belong to its old trigger, or to before the pause.
        connection.execute(
            delete(automation_buckets).where(automation_buckets.c.automation_id == row["id"])
        )
    if changes:
        statement = update(automations).where(automations.c.id == row["id"])
        connection.execute(statement.values(updated=datetime.now(UTC), **changes))
        _touch_evaluator(connection)
    return read_automation(connection, row["id"])


def read_automation(connection: Connection, name_or_id: str) -> AutomationRecord:
    return _automation(_find(connection, name_or_id))


def find_automation(connection: Connection, name_or_id: str) -> AutomationRecord | None:
    row = _lookup(connection, name_or_id)
    return None if row is None else _automation(row)


def list_automations(connection: Connection, enabled: bool | None) -> list[AutomationRecord]:
    query = select(automations).order_by(automations.c.name)
    if enabled is not None:
        query = query.where(automations.c.enabled.is_(enabled))
    return [_automation(row) for row in connection.execute(query).mappings()]


def delete_automation(connection: Connection, name_or_id: str) -> bool:
    row = _lookup(connection, name_or_id)
    if row is None:
        return False
    for table in (automation_buckets, automation_firings):
        connection.execute(delete(table).where(table.c.automation_id == row["id"]))
    connection.execute(delete(automations).where(automations.c.id == row["id"]))
    _touch_evaluator(connection)
    return True


def list_firings(
    connection: Connection, automation_id: str | None, limit: int
) -> list[FiringRecord]:
    query = select(automation_firings).order_by(automation_firings.c.fired.desc()).limit(limit)
    if automation_id is not None:
        query = query.where(automation_firings.c.automation_id == automation_id)
    return [_firing(row) for row in connection.execute(query).mappings()]


def insert_firings(connection: Connection, firings: Sequence[Mapping[str, Any]]) -> int:
    """Record ``firings`` as pending; one already recorded (same automation and key) is
    left alone. Returns how many are new."""
    new = 0
    for firing in firings:
        statement = _upsert(connection)(automation_firings).values(
            id=str(uuid.uuid4()), state=PENDING, attempts=0, **firing
        )
        inserted = statement.on_conflict_do_nothing().returning(automation_firings.c.id)
        new += connection.execute(inserted).first() is not None
    return new


def claim_firings(
    connection: Connection, holder: str, claim_seconds: float, limit: int
) -> list[FiringRecord]:
    """Claim up to ``limit`` pending firings, oldest first, for ``claim_seconds``: the
    ones no live claim holds. Each claim counts an attempt."""
    now = datetime.now(UTC)
    free = or_(
        automation_firings.c.claimed_until.is_(None), automation_firings.c.claimed_until < now
    )
    query = (
        select(automation_firings.c.id)
        .where(automation_firings.c.state == PENDING, free)
        .order_by(automation_firings.c.fired)
        .limit(limit)
    )
    claimed = []
    for firing_id in connection.execute(query).scalars().all():
        statement = (
            update(automation_firings)
            .where(
                automation_firings.c.id == firing_id, automation_firings.c.state == PENDING, free
            )
            .values(
                claimed_by=holder,
                claimed_until=now + timedelta(seconds=claim_seconds),
                attempts=automation_firings.c.attempts + 1,
            )
        )
        if connection.execute(statement).rowcount == 1:
            claimed.append(firing_id)
    if not claimed:
        return []
    rows = connection.execute(
        select(automation_firings)
        .where(automation_firings.c.id.in_(claimed))
        .order_by(automation_firings.c.fired)
    ).mappings()
    return [_firing(row) for row in rows]


def finish_firing(
    connection: Connection,
    firing_id: str,
    holder: str,
    *,
    state: str,
    results: list[Any] | None,
    error: str | None,
    retry_in: float | None = None,
) -> bool:
    """Record how a claimed firing's actions went: ``state`` done or failed, or still
    pending (``retry_in`` seconds from now). False if the claim was lost meanwhile."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": state, "results": results, "error": error}
    if state == PENDING:
        values["claimed_until"] = now + timedelta(seconds=retry_in or 0)
    else:
        values["finished"] = now
    statement = (
        update(automation_firings)
        .where(automation_firings.c.id == firing_id, automation_firings.c.claimed_by == holder)
        .values(**values)
    )
    return connection.execute(statement).rowcount == 1


def _touch_evaluator(connection: Connection) -> None:
    """Mark the evaluator's row changed, in the transaction that changes an automation: a
    step in flight then fails its compare-and-set and reads again (on PostgreSQL this also
    waits for a step committing now, so old windows are never written back after)."""
    connection.execute(
        update(automation_evaluator)
        .where(automation_evaluator.c.name == "default")
        .values(updated=datetime.now(UTC))
    )


def _stream_ends(connection: Connection) -> dict[str, int]:
    """Where the event streams end now, as an automation's starting positions."""
    return {
        "state_from": int(connection.scalar(select(func.max(state_history.c.id))) or 0),
        "event_from": int(connection.scalar(select(func.max(events.c.seq))) or 0),
    }


def _upsert(connection: Connection) -> Any:
    return dialect_insert(connection)


def _lookup(connection: Connection, name_or_id: str) -> RowMapping | None:
    query = select(automations).where(
        or_(automations.c.name == name_or_id, automations.c.id == name_or_id)
    )
    return connection.execute(query).mappings().first()


def _find(connection: Connection, name_or_id: str) -> RowMapping:
    row = _lookup(connection, name_or_id)
    if row is None:
        raise AutomationNotFound(
            f"No automation is named {name_or_id!r}; `taskbook automations ls` lists them.",
            automation=name_or_id,
        )
    return row


def _automation(row: RowMapping) -> AutomationRecord:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "enabled": bool(row["enabled"]),
        "trigger": row["trigger"],
        "actions": list(row["actions"] or ()),
        "actions_on_trigger": list(row["actions_on_trigger"] or ()),
        "actions_on_resolve": list(row["actions_on_resolve"] or ()),
        "state_from": int(row["state_from"]),
        "event_from": int(row["event_from"]),
        "created": isoformat(row["created"]),
        "updated": isoformat(row["updated"]),
    }


def _firing(row: RowMapping) -> FiringRecord:
    return {
        "id": row["id"],
        "automation_id": row["automation_id"],
        "firing_key": row["firing_key"],
        "fired": isoformat(row["fired"]),
        "triggering_event": row["triggering_event"],
        "firing": row["firing"],
        "state": row["state"],
        "attempts": row["attempts"],
        "error": row["error"],
        "results": row["results"],
        "finished": isoformat(row["finished"]),
    }
