"""Turn a batch of engine events into table rows, ready for ``executemany``.

Several state events of one run in a batch make one row for that run (its latest fields,
read now from the live run object) and one history row per event.

Rows are tuples already in the driver's terms (JSON as text, times as the backend
wants them), in the column order of ``COLUMNS``: the writer hands them to the DBAPI
as they are. Going around SQLAlchemy's per-row parameter processing halves the writer's
CPU time, which it would otherwise take from the engine (they share the GIL).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kernel_ext import _redaction
from kernel_ext._events import EmittedEvent, Event, LogEvent, ResultEvent, StateEvent
from kernel_ext._run_records import FlowRun, TaskRun
from kernel_ext._states import State
from kernel_ext.store._types import dumps

__all__ = ["COLUMNS", "Rows", "TimeEncoder", "to_rows"]

Row = tuple[Any, ...]
TimeEncoder = Callable[[float], Any]

_STATE = ("state_type", "state_name", "state_message", "start_time", "end_time", "run_count")

# In table order; the writer checks these against the compiled statements.
COLUMNS: dict[str, tuple[str, ...]] = {
    "flow_runs": (
        "id",
        "name",
        "flow_name",
        "parameters",
        "parent_task_run_id",
        "tags",
        *_STATE,
        "created",
    ),
    "task_runs": (
        "id",
        "name",
        "task_key",
        "flow_run_id",
        "upstream",
        "tags",
        *_STATE,
        "cache_key",
        "created",
    ),
    "state_history": ("run_id", "run_kind", "type", "name", "timestamp", "message", "details"),
    "logs": ("flow_run_id", "task_run_id", "level", "logger", "message", "timestamp"),
    "results": ("task_run_id", "cache_key", "location", "created", "expiration"),
    "events": (
        "id",
        "occurred",
        "event",
        "resource_id",
        "resource",
        "related",
        "payload",
        "follows",
    ),
}


@dataclass(slots=True)
class Rows:
    """The rows of one batch, one list per table, and the runs to mark persisted."""

    flow_runs: list[Row] = field(default_factory=list)
    task_runs: list[Row] = field(default_factory=list)
    state_history: list[Row] = field(default_factory=list)
    logs: list[Row] = field(default_factory=list)
    results: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    runs: list[FlowRun | TaskRun] = field(default_factory=list)

    def mark_persisted(self) -> None:
        """Call once the batch is committed: later events of these runs are updates."""
        for run in self.runs:
            run.persisted = True


def to_rows(events: Iterable[Event], time: TimeEncoder) -> Rows:
    """The rows for ``events``; ``time`` turns epoch seconds into the column's value."""
    rows = Rows()
    latest: dict[str, tuple[FlowRun | TaskRun, State]] = {}  # by run id: its last state
    history = rows.state_history.append
    for event in events:  # the writer's hottest loop: history rows are built inline
        if type(event) is StateEvent:
            run, state = event
            latest[run.id] = (run, state)
            details = state.details
            history(
                (
                    run.id,
                    "flow" if type(run) is FlowRun else "task",
                    state.type._value_,
                    state.name,
                    time(state.timestamp),
                    state.message,
                    None if details is None else dumps(details),
                )
            )
        elif type(event) is LogEvent:
            rows.logs.append(_log_row(event, time))
        elif type(event) is ResultEvent:
            rows.results.append(_result_row(event, time))
        elif type(event) is EmittedEvent:
            rows.events.append(_event_row(event.event, time))
        else:
            raise TypeError(f"The store cannot write {type(event).__name__} events.")
    for run, state in latest.values():
        if isinstance(run, FlowRun):  # once per run, not per state
            rows.flow_runs.append(_flow_run_row(run, state, time))
        else:
            rows.task_runs.append(_task_run_row(run, state, time))
        rows.runs.append(run)
    if _redaction.active():
        _redact(rows)
    return rows


# The columns where a secret's value may land: log lines and captured prints, state
# messages and details (a traceback quotes what failed), a flow run's parameters. The
# JSON columns are masked as values: masking their text could replace a number or a
# keyword and leave JSON that no longer parses (and a batch PostgreSQL refuses).
_JSON_COLUMNS = frozenset({"details", "parameters", "payload"})
_REDACTED = {
    table: tuple((COLUMNS[table].index(column), column in _JSON_COLUMNS) for column in columns)
    for table, columns in {
        "logs": ("message",),
        "state_history": ("message", "details"),
        "flow_runs": ("parameters", "state_message"),
        "task_runs": ("state_message",),
        "events": ("payload",),
    }.items()
}


def _redact(rows: Rows) -> None:
    """Mask the secrets this process loaded (``kernel_ext._redaction``) before they are
    stored: here, on the writer's thread, every stored line and state passes once."""
    for table, columns in _REDACTED.items():
        setattr(rows, table, [_masked(row, columns) for row in getattr(rows, table)])


def _masked(row: Row, columns: tuple[tuple[int, bool], ...]) -> Row:
    values = list(row)
    for index, is_json in columns:
        value = values[index]
        if isinstance(value, str):
            values[index] = _masked_json(value) if is_json else _redaction.redact(value)
    return tuple(values)


def _masked_json(text: str) -> str:
    """The JSON column ``text`` (written by ``dumps``) with secrets masked in its strings."""
    if not _redaction.in_json(text):
        return text
    value = json.loads(text)
    masked = _redaction.redact_value(value)
    return text if masked is value else dumps(masked)


def _state_columns(run: FlowRun | TaskRun, state: State, time: TimeEncoder) -> Row:
    # The state columns follow the last event written, so they always agree with the
    # last history row; the rest is the run as it is now.
    start, end = run.start_time, run.end_time
    return (
        state.type._value_,
        state.name,
        state.message,
        None if start is None else time(start),
        None if end is None else time(end),
        run.run_count,
    )


def _flow_run_row(run: FlowRun, state: State, time: TimeEncoder) -> Row:
    return (
        run.id,
        run.name,
        run.flow_name,
        dumps(run.parameters),
        run.parent_task_run_id,
        _json_list(run.tags),
        *_state_columns(run, state, time),
        time(run.created),
    )


def _task_run_row(run: TaskRun, state: State, time: TimeEncoder) -> Row:
    return (
        run.id,
        run.name,
        run.task_key,
        run.flow_run_id,
        _json_list(run.upstream),
        _json_list(run.tags),
        *_state_columns(run, state, time),
        run.cache_key,
        time(run.created),
    )


def _log_row(event: LogEvent, time: TimeEncoder) -> Row:
    return (
        event.flow_run_id,
        event.task_run_id,
        event.level,
        event.logger,
        event.message,
        time(event.timestamp),
    )


def _result_row(event: ResultEvent, time: TimeEncoder) -> Row:
    expiration = event.expiration
    return (
        event.task_run_id,
        event.cache_key,
        event.location,
        time(event.created),
        None if expiration is None else time(expiration),
    )


def _event_row(event: Any, time: TimeEncoder) -> Row:
    return (
        str(event.id),
        time(event.occurred.timestamp()),
        event.event,
        event.resource.id,
        dumps(event.resource.root),
        dumps([related.root for related in event.related]) if event.related else None,
        dumps(event.payload) if event.payload else None,
        None if event.follows is None else str(event.follows),
    )


def _json_list(values: Iterable[str]) -> str:
    return dumps(list(values)) if values else "[]"
