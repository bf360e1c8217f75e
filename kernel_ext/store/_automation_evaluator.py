"""The automations' evaluator as the store keeps it: who evaluates, how far it has read,
the triggers' open windows, all moved in one transaction per step.

Exactly once, however many schedulers run: a step first takes (or renews) the lease on
the one ``automation_evaluator`` row (a short write transaction), then reads the events
past its cursors and the open windows (a read transaction: writers are not held while the
pure evaluation in ``papermill_bridge.automations`` runs), and commits its outcome in a
third, short transaction: the firings, the changed windows and the cursors, written only
if the row still holds this holder, the cursors and the commit time the step started
from (a compare-and-set). So two steps never both commit from one position, even when a
lease runs out mid-step; a step that fails, dies or loses the race writes nothing, and
the next (here or in another scheduler, once the lease expires) reads the same events
again.

PostgreSQL commits out of order: a batch holding history ids 100-199 can commit after
one holding 200-299 was read. The ids skipped below the cursor are kept as ``pending`` and
read again by the next steps until they appear, or ``GAP_WAIT`` seconds have passed (ids
of rolled-back transactions never do). SQLite commits one transaction at a time, in id
order: nothing is skipped there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from kernel_ext.store._automation_rows import insert_firings, list_automations
from kernel_ext.store._event_reads import custom_events, state_events
from kernel_ext.store._tables import (
    automation_buckets,
    automation_evaluator,
    events,
    state_history,
)
from kernel_ext.store._tables import automations as automations_table
from kernel_ext.store._types import dialect_insert
from kernel_ext.store.records import AutomationRecord, BucketRow, EventRow, NewFiring

__all__ = [
    "BucketKey",
    "EvaluationBatch",
    "EvaluationOutcome",
    "EvaluationStep",
    "Position",
    "StepReads",
    "commit_step",
    "read_step",
    "release_evaluator",
    "take_lease",
]

_NAME = "default"
GAP_WAIT = 60.0
_MAX_GAPS = 10_000
_CHUNK = 500

# (automation id, trigger id, bucket key)
BucketKey = tuple[str, str, str]


class EvaluationBatch(NamedTuple):
    """What one step gives the evaluation: the enabled automations, the new events in
    the order they were recorded, the open windows of those automations, and whether
    the events read are all there were (else a window must not end past the last one
    read: the event it waits for may be among those still unread)."""

    automations: list[AutomationRecord]
    events: list[EventRow]
    buckets: dict[BucketKey, BucketRow]
    now: datetime
    caught_up: bool


class EvaluationOutcome(NamedTuple):
    """What the evaluation returns: windows changed (None: closed) and new firings."""

    buckets: Mapping[BucketKey, BucketRow | None]
    firings: Sequence[NewFiring]


class EvaluationStep(NamedTuple):
    """What a step did: events read, firings recorded (new ones), and whether more
    events wait past the limit."""

    events: int
    firings: int
    more: bool


class _StreamRead(NamedTuple):
    rows: list[EventRow]
    end: int  # the new cursor
    pending: dict[str, float]  # positions skipped, and since when (epoch seconds)
    full: bool  # the limit was reached: more may wait


class Outcome(Protocol):
    """What an evaluation returns (``EvaluationOutcome`` or any value of its shape)."""

    @property
    def buckets(self) -> Mapping[BucketKey, Mapping[str, Any] | None]: ...

    @property
    def firings(self) -> Sequence[Mapping[str, Any]]: ...


Evaluate = Callable[[EvaluationBatch], Outcome]
EventNames = Callable[[list[AutomationRecord]], Sequence[str]]


class Position(NamedTuple):
    """Where the evaluator stands, as a step found it: the cursors, the positions still
    awaited, and when the last step committed (the step commits only if it still is)."""

    state_cursor: int
    event_cursor: int
    pending: dict[str, dict[str, float]]
    updated: datetime | None
    automations: list[AutomationRecord]
    definitions: tuple[int, datetime | None]  # count and latest change of the automations


class StepReads(NamedTuple):
    """What a step read, to move the cursors to if its outcome is committed."""

    states: _StreamRead
    customs: _StreamRead

    @property
    def more(self) -> bool:
        return self.states.full or self.customs.full


def take_lease(connection: Connection, holder: str, lease_seconds: float) -> Position | None:
    """Take or renew the evaluator's lease: where it stands, or None if another scheduler
    holds it. With no automation enabled, the cursors move to the streams' ends (an
    automation made later reacts to what comes after it) and no automation is listed."""
    now = datetime.now(UTC)
    if not _take_lease(connection, holder, lease_seconds, now):
        return None
    automations = list_automations(connection, enabled=True)
    if not automations:
        _skip_to_end(connection, now)
    row = connection.execute(
        select(automation_evaluator).where(automation_evaluator.c.name == _NAME)
    ).one()
    pending = dict(row.pending or {})
    definitions = _definitions(connection)
    return Position(
        row.state_cursor, row.event_cursor, pending, row.updated, automations, definitions
    )


def _definitions(connection: Connection) -> tuple[int, datetime | None]:
    """How many automations there are and when one last changed: a step commits only if
    these are what it evaluated (an edited trigger's windows are not written back)."""
    row = connection.execute(
        select(func.count(), func.max(automations_table.c.updated)).select_from(automations_table)
    ).one()
    return int(row[0]), row[1]


def read_step(
    connection: Connection, position: Position, event_names: EventNames, limit: int
) -> tuple[EvaluationBatch, StepReads]:
    """The events past the cursors (at most ``limit`` positions of each stream) and the
    open windows, for the evaluation: read only, so writers are not held meanwhile."""
    gaps = connection.dialect.name == "postgresql"
    names = list(event_names(position.automations))
    waited = position.pending
    states = _read_stream(
        connection, "state", position.state_cursor, waited.get("state", {}), names, limit, gaps
    )
    customs = _read_stream(
        connection, "event", position.event_cursor, waited.get("event", {}), names, limit, gaps
    )
    reads = StepReads(states, customs)
    batch = EvaluationBatch(
        position.automations,
        sorted([*states.rows, *customs.rows], key=lambda r: (r.event.occurred, r.position)),
        _load_buckets(connection, [a["id"] for a in position.automations]),
        datetime.now(UTC),
        caught_up=not reads.more,
    )
    return batch, reads


def commit_step(
    connection: Connection, holder: str, position: Position, reads: StepReads, outcome: Outcome
) -> int | None:
    """Record a step's outcome and move the cursors, if the evaluator still stands where
    the step found it under this holder's lease (else None: nothing is written, another
    step went first). Returns how many firings are new."""
    if _definitions(connection) != position.definitions:
        return None  # an automation was made, changed or deleted since the step read them
    table = automation_evaluator.c
    moved = connection.execute(
        update(automation_evaluator)
        .where(
            table.name == _NAME,
            table.holder == holder,
            table.state_cursor == position.state_cursor,
            table.event_cursor == position.event_cursor,
            table.updated.is_(None)
            if position.updated is None
            else table.updated == position.updated,
        )
        .values(
            state_cursor=reads.states.end,
            event_cursor=reads.customs.end,
            pending={"state": reads.states.pending, "event": reads.customs.pending},
            updated=datetime.now(UTC),
        )
    )
    if moved.rowcount != 1:
        return None
    _save_buckets(connection, outcome.buckets)
    return insert_firings(connection, outcome.firings)


def release_evaluator(connection: Connection, holder: str) -> None:
    """Give the lease up (a scheduler stopping), so another takes over at once."""
    connection.execute(
        update(automation_evaluator)
        .where(automation_evaluator.c.name == _NAME, automation_evaluator.c.holder == holder)
        .values(holder=None, lease_until=None)
    )


def _take_lease(connection: Connection, holder: str, seconds: float, now: datetime) -> bool:
    upsert = dialect_insert(connection)
    # The first evaluator starts where the oldest automation does (an automation made
    # before any scheduler ran still sees what came after it), or at the streams' ends.
    table_ = automations_table.c
    start = {
        "name": _NAME,
        "state_cursor": _first(connection, table_.state_from, _max(connection, state_history.c.id)),
        "event_cursor": _first(connection, table_.event_from, _max(connection, events.c.seq)),
    }
    connection.execute(upsert(automation_evaluator).values(**start).on_conflict_do_nothing())
    table = automation_evaluator.c
    statement = (
        update(automation_evaluator)
        .where(
            table.name == _NAME,
            or_(table.holder == holder, table.holder.is_(None), table.lease_until < now),
        )
        .values(holder=holder, lease_until=now + timedelta(seconds=seconds))
    )
    return connection.execute(statement).rowcount == 1


def _skip_to_end(connection: Connection, now: datetime) -> None:
    connection.execute(
        update(automation_evaluator)
        .where(automation_evaluator.c.name == _NAME)
        .values(
            state_cursor=_max(connection, state_history.c.id),
            event_cursor=_max(connection, events.c.seq),
            pending=None,
            updated=now,
        )
    )


def _first(connection: Connection, column: Any, otherwise: int) -> int:
    """The lowest starting position of the enabled automations (those a step evaluates)."""
    found = connection.scalar(select(func.min(column)).where(automations_table.c.enabled))
    return otherwise if found is None else int(found)


def _max(connection: Connection, column: Any) -> int:
    return int(connection.scalar(select(func.max(column))) or 0)


def _read_stream(
    connection: Connection,
    stream: str,
    cursor: int,
    pending: Mapping[str, float],
    names: Sequence[str],
    limit: int,
    gaps: bool,
) -> _StreamRead:
    """The stream's events past ``cursor`` (at most ``limit`` positions) and those of
    its pending positions that have appeared; the new cursor and pending positions."""
    column = state_history.c.id if stream == "state" else events.c.seq
    query = select(column).where(column > cursor).order_by(column).limit(limit)
    present = list(connection.execute(query).scalars())
    end = present[-1] if present else cursor
    waited = [int(position) for position in pending]
    if waited:
        found = set(connection.execute(select(column).where(column.in_(waited))).scalars())
    else:
        found = set()
    positions = sorted({*present, *found})
    rows = _read_rows(connection, stream, positions, names) if positions else []
    still: dict[str, float] = {}
    if gaps:
        clock = time.time()
        for position, since in pending.items():
            if int(position) not in found and clock - since < GAP_WAIT:
                still[position] = since
        seen = set(present)
        for skipped in range(cursor + 1, end + 1):
            if skipped not in seen and len(still) < _MAX_GAPS:
                still.setdefault(str(skipped), clock)
    return _StreamRead(rows, end, still, len(present) >= limit)


def _read_rows(
    connection: Connection, stream: str, positions: list[int], names: Sequence[str]
) -> list[EventRow]:
    if stream == "state":
        return state_events(connection, ids=positions, names=names, limit=len(positions))
    return custom_events(connection, seqs=positions, limit=len(positions))


def _load_buckets(connection: Connection, automation_ids: list[str]) -> dict[BucketKey, BucketRow]:
    query = select(automation_buckets).where(automation_buckets.c.automation_id.in_(automation_ids))
    return {
        (row["automation_id"], row["trigger_id"], row["bucket_key"]): {
            "opened": row["opened"],
            "closes": row["closes"],
            "count": row["count"],
            "last_event": row["last_event"],
            "state": row["state"],
        }
        for row in connection.execute(query).mappings()
    }


def _save_buckets(
    connection: Connection, changes: Mapping[BucketKey, Mapping[str, Any] | None]
) -> None:
    """Write the changed windows: the old rows of every changed key deleted (by trigger,
    in chunks), the open ones inserted in one ``executemany``."""
    table = automation_buckets
    by_trigger: dict[tuple[str, str], list[str]] = {}
    for automation_id, trigger_id, bucket_key in changes:
        by_trigger.setdefault((automation_id, trigger_id), []).append(bucket_key)
    for (automation_id, trigger_id), keys in by_trigger.items():
        for start in range(0, len(keys), _CHUNK):
            connection.execute(
                delete(table).where(
                    table.c.automation_id == automation_id,
                    table.c.trigger_id == trigger_id,
                    table.c.bucket_key.in_(keys[start : start + _CHUNK]),
                )
            )
    rows = [
        {"automation_id": key[0], "trigger_id": key[1], "bucket_key": key[2], **bucket}
        for key, bucket in changes.items()
        if bucket is not None
    ]
    if rows:
        connection.execute(insert(table), rows)
