"""Events as the readers see them: state changes read from ``state_history``, and the
rows of ``events`` (emitted by user code, or recorded with deployment changes).

A state change is not written twice: its history row, joined with its run (and the run's
flow run and deployment), is the event Prefect's server emits for it,
``prefect.flow-run.<State name>`` or ``prefect.task-run.<State name>``, with the same
resource labels, related resources and payload. Its id is derived from the history row,
so every read of it gives the same event (what an automation's firing is keyed on).

Two streams, two cursors: history ids and event ``seq`` numbers. ``EventRow`` carries
which stream a row came from and its position there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext.store._event_writes import related_resource
from kernel_ext.store._tables import deployments, events, flow_runs, state_history, task_runs
from kernel_ext.store.records import EventRow

if TYPE_CHECKING:
    from kernel_ext.events import Event

__all__ = [
    "EventRow",
    "custom_events",
    "events_page",
    "list_events",
    "name_matches",
    "state_event_id",
    "state_events",
    "stream_ends",
]

# The namespace of the ids of state-change events (uuid5 of the store's history id).
_STATE_EVENT_NAMESPACE = uuid.UUID("6f1f3c2e-7c5b-4d7e-9b0a-5a8d6c1e2f30")
_MESSAGE_LIMIT = 100_000  # Prefect truncates state messages in events at this length
# How far before the found id a "since" read starts: writers stamp states with their own
# clocks and commit in batches, so times along the ids are only about in order.
_SKEW_ROWS = 20_000


def state_event_id(history_id: int) -> uuid.UUID:
    return uuid.uuid5(_STATE_EVENT_NAMESPACE, str(history_id))


def state_events(
    connection: Connection,
    *,
    after: int = 0,
    ids: Sequence[int] = (),
    limit: int = 1000,
    names: Sequence[str] = (),
    newest_first: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[EventRow]:
    """State changes with history ids above ``after`` (or exactly ``ids``), by id (the
    newest first if asked), of the runs whose event names may match ``names``."""
    conditions = list(where)
    if ids:
        conditions.append(state_history.c.id.in_(list(ids)))
    elif after:
        conditions.append(state_history.c.id > after)
    rows: list[EventRow] = []
    for kind in ("flow", "task"):
        named = _state_names(kind, names)
        if named is None:
            continue
        query = _state_query(kind).where(*conditions, named)
        order = state_history.c.id.desc() if newest_first else state_history.c.id
        for row in connection.execute(query.order_by(order).limit(limit)).mappings():
            rows.append(EventRow("state", row["history_id"], _state_event(kind, row)))
    rows.sort(key=lambda item: item.position, reverse=newest_first)
    return rows[:limit]


def custom_events(
    connection: Connection,
    *,
    after: int = 0,
    seqs: Sequence[int] = (),
    limit: int = 1000,
    newest_first: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[EventRow]:
    """Rows of ``events`` with ``seq`` above ``after`` (or exactly ``seqs``), by seq."""
    conditions = list(where)
    if seqs:
        conditions.append(events.c.seq.in_(list(seqs)))
    elif after:
        conditions.append(events.c.seq > after)
    order = events.c.seq.desc() if newest_first else events.c.seq
    query = select(events).where(*conditions).order_by(order).limit(limit)
    return [
        EventRow("event", row["seq"], _custom_event(row))
        for row in connection.execute(query).mappings()
    ]


def list_events(
    connection: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Iterable[str] = (),
    resource: str | None = None,
    limit: int = 100,
) -> list[EventRow]:
    """Events of both streams, newest first. ``names`` are event-name patterns
    (``prefect.flow-run.*``, ``!prefect.task-run.*``), ``resource`` a resource-id pattern."""
    patterns = list(names)
    state_where, event_where = _filters(connection, patterns, resource, since, until)
    states = state_events(
        connection, limit=limit, names=patterns, newest_first=True, where=state_where
    )
    custom = custom_events(connection, limit=limit, newest_first=True, where=event_where)
    found = _selected([*states, *custom], patterns, resource)
    found.sort(key=lambda row: (row.event.occurred, row.position), reverse=True)
    return found[:limit]


def events_page(
    connection: Connection,
    cursor: tuple[int, int],
    *,
    names: Iterable[str] = (),
    resource: str | None = None,
    limit: int = 1000,
) -> tuple[list[EventRow], tuple[int, int]]:
    """The events past ``cursor`` (a history id and an event seq), oldest first, and the
    cursor to read on from: past every position read, never past one not read (a stream
    that filled ``limit`` goes on from its last row next time)."""
    patterns = list(names)
    ends = stream_ends(connection)  # before the reads: what commits meanwhile comes next
    state_where, event_where = _filters(connection, patterns, resource, None, None)
    states = state_events(
        connection, after=cursor[0], limit=limit, names=patterns, where=state_where
    )
    custom = custom_events(connection, after=cursor[1], limit=limit, where=event_where)
    onward = (
        _onward(states, limit, cursor[0], ends[0]),
        _onward(custom, limit, cursor[1], ends[1]),
    )
    found = _selected([*states, *custom], patterns, resource)
    found.sort(key=lambda row: (row.event.occurred, row.stream, row.position))
    return found, onward


def _onward(rows: list[EventRow], limit: int, cursor: int, end: int) -> int:
    if len(rows) >= limit:
        return rows[-1].position
    return max(cursor, end, rows[-1].position if rows else 0)


def _filters(
    connection: Connection,
    patterns: list[str],
    resource: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    since = None if since is None else _aware(since)
    until = None if until is None else _aware(until)
    state_where, event_where = _time_filters(since, until)
    if since is not None:  # history has no time index: its ids rise with time, seek by id
        state_where.append(state_history.c.id >= _first_history_id_at(connection, since))
    if resource is not None:
        event_where.append(_like(events.c.resource_id, resource))
        state_where.append(_run_ids(resource))
    if patterns:
        event_where.append(_names(patterns))
    return state_where, event_where


def _selected(rows: list[EventRow], patterns: list[str], resource: str | None) -> list[EventRow]:
    """``rows`` that the patterns select (the SQL filters are wider where they must be)."""
    return [
        row
        for row in rows
        if name_matches(patterns, row.event.event)
        and (resource is None or _matches(resource, row.event.resource.id))
    ]


def _first_history_id_at(connection: Connection, since: datetime) -> int:
    """About the first history id at or after ``since``: a binary search over the ids
    (each probe one primary-key seek), low by the engines' clock skew at most, which the
    exact time filter then trims."""
    low = int(connection.scalar(select(func.min(state_history.c.id))) or 0)
    high = int(connection.scalar(select(func.max(state_history.c.id))) or 0)
    while low < high:
        middle = (low + high) // 2
        moment = connection.scalar(
            select(state_history.c.timestamp)
            .where(state_history.c.id >= middle)
            .order_by(state_history.c.id)
            .limit(1)
        )
        if moment is not None and _aware(moment) < since:
            low = middle + 1
        else:
            high = middle
    return max(low - _SKEW_ROWS, 0)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _time_filters(
    since: datetime | None, until: datetime | None
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    state_where: list[ColumnElement[bool]] = []
    event_where: list[ColumnElement[bool]] = []
    if since is not None:
        state_where.append(state_history.c.timestamp >= since)
        event_where.append(events.c.occurred >= since)
    if until is not None:
        state_where.append(state_history.c.timestamp <= until)
        event_where.append(events.c.occurred <= until)
    return state_where, event_where


def _split(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Patterns to include (any of them) and to exclude (each of them), ``!`` taken off."""
    positive = [pattern for pattern in patterns if not pattern.startswith("!")]
    negative = [pattern[1:] for pattern in patterns if pattern.startswith("!")]
    return positive, negative


def name_matches(patterns: Sequence[str], name: str) -> bool:
    """Whether event ``name`` is one ``patterns`` select: any of the patterns without
    ``!`` (if there are any), and none of those with it."""
    positive, negative = _split(patterns)
    if positive and not any(_matches(pattern, name) for pattern in positive):
        return False
    return not any(_matches(pattern, name) for pattern in negative)


def _state_names(kind: str, patterns: Sequence[str]) -> ColumnElement[bool] | None:
    """The SQL filter on state names for event-name ``patterns`` over runs of ``kind``;
    ``None`` when none can match (the kind is not read at all)."""
    prefix = f"prefect.{'flow-run' if kind == 'flow' else 'task-run'}."
    positive, negative = _split(patterns)
    conditions: list[ColumnElement[bool]] = []
    for pattern in negative:
        if pattern.endswith("*") and prefix.startswith(pattern[:-1]):
            return None  # the whole kind is excluded
        if pattern.startswith(prefix):
            conditions.append(~_like(state_history.c.name, pattern[len(prefix) :]))
    if not positive:
        return and_(true(), *conditions)
    chosen: list[ColumnElement[bool]] = []
    for pattern in positive:
        if pattern.endswith("*") and prefix.startswith(pattern[:-1]):
            chosen = [true()]
            break
        if pattern.startswith(prefix):
            chosen.append(_like(state_history.c.name, pattern[len(prefix) :]))
    return and_(or_(*chosen), *conditions) if chosen else None


def _matches(pattern: str, value: str) -> bool:
    from kernel_ext.events import matches

    return matches(pattern, value)


def _like(column: Any, pattern: str) -> ColumnElement[bool]:
    if pattern.startswith("!"):
        return ~_like(column, pattern[1:])
    if pattern.endswith("*"):
        escaped = pattern[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return cast("ColumnElement[bool]", column.like(f"{escaped}%", escape="\\"))
    return cast("ColumnElement[bool]", column == pattern)


def _run_ids(resource: str) -> ColumnElement[bool]:
    """The history rows whose runs a resource-id pattern may name: a run, the runs of one
    kind, those of an id prefix; none for another kind of resource (a negated pattern is
    left to the exact match)."""
    if resource.startswith("!"):
        return true()
    wildcard = resource.endswith("*")
    stem = resource[:-1] if wildcard else resource
    kinds = []
    for noun, kind in (("flow-run", "flow"), ("task-run", "task")):
        prefix = f"prefect.{noun}."
        if stem.startswith(prefix):
            run_id = stem[len(prefix) :]
            same_kind = state_history.c.run_kind == kind
            if not wildcard:
                return and_(same_kind, state_history.c.run_id == run_id)
            return and_(same_kind, _like(state_history.c.run_id, run_id + "*"))
        if wildcard and prefix.startswith(stem):
            kinds.append(kind)
    return state_history.c.run_kind.in_(kinds) if kinds else false()


def _names(patterns: Sequence[str]) -> ColumnElement[bool]:
    positive, negative = _split(patterns)
    included = or_(*(_like(events.c.event, p) for p in positive)) if positive else true()
    return and_(included, *(~_like(events.c.event, p) for p in negative))


def _state_query(kind: str) -> Select[Any]:
    history = state_history
    columns: list[Any] = [
        history.c.id.label("history_id"),
        history.c.run_id,
        history.c.type,
        history.c.name,
        history.c.timestamp,
        history.c.message,
        _previous_type(),
        deployments.c.id.label("deployment_id"),
        deployments.c.name.label("deployment_name"),
    ]
    if kind == "flow":
        run = flow_runs
        query = select(
            *columns,
            run.c.name.label("run_name"),
            run.c.run_count,
            run.c.flow_name,
            run.c.tags,
            run.c.parent_task_run_id,
        ).select_from(
            history.join(run, run.c.id == history.c.run_id).outerjoin(
                deployments, deployments.c.id == run.c.deployment_id
            )
        )
    else:
        run, parent = task_runs, flow_runs
        query = select(
            *columns,
            run.c.name.label("run_name"),
            run.c.run_count,
            run.c.tags,
            run.c.flow_run_id,
            parent.c.name.label("flow_run_name"),
            parent.c.flow_name,
        ).select_from(
            history.join(run, run.c.id == history.c.run_id)
            .outerjoin(parent, parent.c.id == run.c.flow_run_id)
            .outerjoin(deployments, deployments.c.id == parent.c.deployment_id)
        )
    return query.where(history.c.run_kind == kind)


def _previous_type() -> Any:
    """The run's state before this one (Prefect's ``intended.from``)."""
    earlier = state_history.alias("earlier")
    return (
        select(earlier.c.type)
        .where(and_(earlier.c.run_id == state_history.c.run_id, earlier.c.id < state_history.c.id))
        .order_by(earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("previous_type")
    )


def _state_event(kind: str, row: RowMapping) -> Event:
    # Imported here: the event models are pydantic, which a store's other readers (and
    # the CLI's start) do without.
    from kernel_ext.events import Event, RelatedResource, Resource

    noun = "flow-run" if kind == "flow" else "task-run"
    timestamp: datetime = row["timestamp"]
    message = (row["message"] or "")[:_MESSAGE_LIMIT]
    resource = {
        "prefect.resource.id": f"prefect.{noun}.{row['run_id']}",
        "prefect.resource.name": row["run_name"],
        "prefect.run-count": str(row["run_count"]),
        "prefect.state-message": message,
        "prefect.state-name": row["name"],
        "prefect.state-timestamp": timestamp.isoformat(),
        "prefect.state-type": row["type"],
    }
    validated = {"type": row["type"], "name": row["name"], "message": message}
    return Event.model_construct(
        id=state_event_id(row["history_id"]),
        occurred=timestamp,
        event=f"prefect.{noun}.{row['name']}",
        resource=Resource.model_construct(resource),
        related=[RelatedResource.model_construct(r) for r in _state_related(kind, row)],
        payload={
            "intended": {"from": row["previous_type"], "to": row["type"]},
            "validated_state": validated,
        },
        follows=None,
    )


def _state_related(kind: str, row: RowMapping) -> list[dict[str, str]]:
    related: list[dict[str, str]] = []
    if kind == "task" and row["flow_run_id"] is not None:
        related.append(
            related_resource(
                f"prefect.flow-run.{row['flow_run_id']}", "flow-run", row["flow_run_name"]
            )
        )
    if row["flow_name"] is not None:
        related.append(
            related_resource(f"prefect.flow.{row['flow_name']}", "flow", row["flow_name"])
        )
    if row["deployment_id"] is not None:
        related.append(
            related_resource(
                f"prefect.deployment.{row['deployment_id']}", "deployment", row["deployment_name"]
            )
        )
    if kind == "flow" and row["parent_task_run_id"] is not None:
        related.append(
            related_resource(f"prefect.task-run.{row['parent_task_run_id']}", "task-run")
        )
    for tag in row["tags"] or ():
        related.append(related_resource(f"prefect.tag.{tag}", "tag"))
    return related


def _custom_event(row: RowMapping) -> Event:
    from kernel_ext.events import Event, RelatedResource, Resource

    return Event.model_construct(
        id=uuid.UUID(row["id"]),
        occurred=row["occurred"],
        event=row["event"],
        resource=Resource.model_construct(row["resource"]),
        related=[RelatedResource.model_construct(r) for r in row["related"] or ()],
        payload=row["payload"] or {},
        follows=None if row["follows"] is None else uuid.UUID(row["follows"]),
    )


def stream_ends(connection: Connection) -> tuple[int, int]:
    """The last history id and event seq: a cursor at the end of both streams."""
    last_state = connection.scalar(select(func.max(state_history.c.id))) or 0
    last_event = connection.scalar(select(func.max(events.c.seq))) or 0
    return int(last_state), int(last_event)
