"""Input requests of paused runs: created, answered and read in synchronous transactions.

A run that pauses for input writes its form here and waits; the notebook widget, the CLI
or another notebook answers it. Unlike the engine's events these writes skip the batched
writer: they are rare, and the waiting process must see them at once.

A request leaves ``pending`` exactly once, by a compare-and-set (``UPDATE ... WHERE
status = 'pending'``): of two answers racing, one changes the row and the other finds it
changed and says by whom. On SQLite the write transactions are ``BEGIN IMMEDIATE``, so
they queue for the write lock; on PostgreSQL the second UPDATE waits for the first's row
lock, then re-checks its WHERE against the committed row.

Records are JSON-able dicts with ISO-8601 UTC times, joined with their flow run's name,
flow name and state (None until the writer has stored the run). A rejection's reason is
its answer, ``{"reason": ...}``; ``error`` keeps why the last answer failed validation,
for the form to show, until an answer is taken.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import ConfigurationError, InputAlreadyAnswered, InputNotFound
from kernel_ext._states import FINAL_TYPE_VALUES, Failed, StateType
from kernel_ext.store._event_writes import record_event, related_resource
from kernel_ext.store._tables import flow_runs, run_inputs
from kernel_ext.store._types import dialect_insert, from_epoch, isoformat, state_type

__all__ = [
    "ANSWERED",
    "EXPIRED",
    "PENDING",
    "REJECTED",
    "STATUSES",
    "answer_input_request",
    "create_input_request",
    "expire_input_request",
    "expire_pause",
    "expire_requests_of_run",
    "find_input_request",
    "forget_expired_requests",
    "list_input_requests",
    "list_overdue_input_requests",
    "read_input_request",
    "record_input_error",
    "reject_input_request",
]

from kernel_ext.store.records import InputRequestRecord

PENDING: Final = "pending"
ANSWERED: Final = "answered"
REJECTED: Final = "rejected"
EXPIRED: Final = "expired"
STATUSES: Final = (PENDING, ANSWERED, REJECTED, EXPIRED)


def create_input_request(
    connection: Connection,
    *,
    id: str,
    flow_run_id: str,
    key: str,
    schema: dict[str, Any],
    description: str | None,
    timeout_at: float | None,
) -> InputRequestRecord:
    """Insert the request, unless (flow_run_id, key) has one: then return that one."""
    insert = dialect_insert(connection)
    statement = insert(run_inputs).values(
        id=id,
        flow_run_id=flow_run_id,
        key=key,
        schema=schema,
        description=description,
        status=PENDING,
        created=datetime.now(UTC),
        timeout_at=None if timeout_at is None else from_epoch(timeout_at),
    )
    # ON CONFLICT rather than look-then-insert: two processes may pause the same run.
    connection.execute(statement.on_conflict_do_nothing(index_elements=["flow_run_id", "key"]))
    record = find_input_request(connection, flow_run_id, key)
    assert record is not None  # inserted, or there already
    return record


def read_input_request(connection: Connection, request_id: str) -> InputRequestRecord:
    record = _first(connection, run_inputs.c.id == request_id)
    if record is None:
        raise InputNotFound(
            f"No input request has the id {request_id!r} in this store; list the pending "
            "ones with `taskbook approvals ls`."
        )
    return record


def find_input_request(
    connection: Connection, flow_run_id: str, key: str
) -> InputRequestRecord | None:
    return _first(connection, run_inputs.c.flow_run_id == flow_run_id, run_inputs.c.key == key)


def list_input_requests(
    connection: Connection, status: str | None, flow_run_id: str | None, limit: int
) -> list[InputRequestRecord]:
    query = _joined().order_by(run_inputs.c.created.desc(), run_inputs.c.id.desc())
    if status is not None:
        if status not in STATUSES:
            raise ConfigurationError(
                f"Unknown input request status {status!r}; use one of {', '.join(STATUSES)}, "
                "or None for all."
            )
        query = query.where(run_inputs.c.status == status)
        if status == PENDING:  # a run that finished on a path that left it pending
            query = query.where(
                or_(
                    flow_runs.c.state_type.is_(None),
                    flow_runs.c.state_type.not_in(FINAL_TYPE_VALUES),
                )
            )
    if flow_run_id is not None:
        query = query.where(run_inputs.c.flow_run_id == flow_run_id)
    rows = connection.execute(query.limit(max(limit, 0))).mappings()
    return [_record(row) for row in rows]


def list_overdue_input_requests(
    connection: Connection, now: float, limit: int
) -> list[InputRequestRecord]:
    """Pending requests whose timeout has passed, oldest deadline first."""
    query = (
        _joined()
        .where(run_inputs.c.status == PENDING, run_inputs.c.timeout_at < from_epoch(now))
        .order_by(run_inputs.c.timeout_at)
        .limit(max(limit, 0))
    )
    return [_record(row) for row in connection.execute(query).mappings()]


def answer_input_request(
    connection: Connection, request_id: str, answer: dict[str, Any], answered_by: str
) -> InputRequestRecord:
    return _settle(
        connection, request_id, status=ANSWERED, answer=answer, answered_by=answered_by, error=None
    )


def reject_input_request(
    connection: Connection, request_id: str, answered_by: str, reason: str | None
) -> InputRequestRecord:
    # The reason is the answer of a rejection, where the run looks for it.
    answer = {"reason": reason}
    return _settle(connection, request_id, status=REJECTED, answer=answer, answered_by=answered_by)


def expire_input_request(connection: Connection, request_id: str) -> InputRequestRecord:
    """Expire a pending request; an answered or rejected one is returned as it is."""
    _compare_and_set(connection, request_id, status=EXPIRED)
    return read_input_request(connection, request_id)


def expire_pause(connection: Connection, request_id: str) -> InputRequestRecord:
    """Expire a request past its timeout and, in the same transaction, fail the Suspended
    run that waits on it (a headless run has no kernel to notice). Idempotent."""
    from kernel_ext._errors import PauseTimeout
    from kernel_ext.store._deployment_runs import set_run_state
    from kernel_ext.store._reads import find_flow_run

    _compare_and_set(connection, request_id, status=EXPIRED)
    record = read_input_request(connection, request_id)
    run = find_flow_run(connection, record["flow_run_id"])
    if record["status"] == EXPIRED and run is not None and run["state"] == "Suspended":
        message = (
            f"{PauseTimeout.__name__}: no answer to {record['key']!r} before its "
            "timeout; the request expired. Pause with a longer timeout= to wait "
            "longer."
        )
        details = {"exception_type": PauseTimeout.__name__, "input_request_id": request_id}
        set_run_state(
            connection, run["id"], Failed(message, details=details), only_from=(StateType.PAUSED,)
        )
    return record


def expire_requests_of_run(connection: Connection, flow_run_id: str) -> int:
    """Expire the run's pending requests (it has finished: nobody waits on them); how
    many there were."""
    statement = (
        update(run_inputs)
        .where(run_inputs.c.flow_run_id == flow_run_id, run_inputs.c.status == PENDING)
        .values(status=EXPIRED, answered_at=datetime.now(UTC))
    )
    return connection.execute(statement).rowcount


def forget_expired_requests(connection: Connection, flow_run_id: str) -> int:
    """Delete the run's expired requests, so that a retry of it asks again; how many."""
    statement = delete(run_inputs).where(
        run_inputs.c.flow_run_id == flow_run_id, run_inputs.c.status == EXPIRED
    )
    return connection.execute(statement).rowcount


def record_input_error(connection: Connection, request_id: str, message: str) -> InputRequestRecord:
    """Keep the message of an answer that failed validation, while the request is pending."""
    statement = (
        update(run_inputs)
        .where(run_inputs.c.id == request_id, run_inputs.c.status == PENDING)
        .values(error=message)
    )
    connection.execute(statement)
    return read_input_request(connection, request_id)


def _settle(connection: Connection, request_id: str, **values: Any) -> InputRequestRecord:
    """Move a pending request to its final status, or say why it cannot be. A request
    past its timeout takes no answer, even before anyone has marked it expired (the
    caller expires it: this transaction is rolled back by the error)."""
    changed = _compare_and_set(connection, request_id, in_time=True, **values)
    record = read_input_request(connection, request_id)
    if not changed:
        raise InputAlreadyAnswered(_already_settled(record))
    _record_answer(connection, record)
    return record


def _record_answer(connection: Connection, record: InputRequestRecord) -> None:
    """``prefect.flow-run.input.answered`` (or ``.rejected``), about the paused run."""
    resource = {"prefect.resource.id": f"prefect.flow-run.{record['flow_run_id']}"}
    if record["flow_run_name"]:
        resource["prefect.resource.name"] = record["flow_run_name"]
    related = []
    if record["flow_name"]:
        related.append(
            related_resource(f"prefect.flow.{record['flow_name']}", "flow", record["flow_name"])
        )
    payload = {
        "key": record["key"],
        "answered_by": record["answered_by"],
        "answer": record["answer"],
    }
    name = f"prefect.flow-run.input.{record['status']}"
    record_event(connection, name, resource, related, payload)


def _compare_and_set(
    connection: Connection, request_id: str, in_time: bool = False, **values: Any
) -> bool:
    now = datetime.now(UTC)
    statement = update(run_inputs).where(
        run_inputs.c.id == request_id, run_inputs.c.status == PENDING
    )
    if in_time:
        statement = statement.where(
            or_(run_inputs.c.timeout_at.is_(None), run_inputs.c.timeout_at > now)
        )
    return connection.execute(statement.values(answered_at=now, **values)).rowcount == 1


def _already_settled(record: InputRequestRecord) -> str:
    run = record["flow_run_name"] or record["flow_run_id"]
    what = f"The input request {record['id']!r} (key {record['key']!r} of flow run {run!r})"
    when = _human_time(record["answered_at"] or record["timeout_at"])
    if record["status"] == ANSWERED:
        return f"{what} was already answered by {record['answered_by']} at {when}."
    if record["status"] == REJECTED:
        why = (record["answer"] or {}).get("reason")
        because = f" ({why})" if why else ""
        return f"{what} was already rejected by {record['answered_by']} at {when}{because}."
    return (
        f"{what} expired at {when} without an answer; the run stopped waiting. Run the flow "
        "again to be asked anew."
    )


def _human_time(iso: str | None) -> str:
    if iso is None:
        return "an unknown time"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def _joined() -> Select[Any]:
    return select(
        run_inputs,
        flow_runs.c.name.label("flow_run_name"),
        flow_runs.c.flow_name,
        flow_runs.c.state_name,
        flow_runs.c.state_type,
    ).select_from(run_inputs.outerjoin(flow_runs, flow_runs.c.id == run_inputs.c.flow_run_id))


def _first(connection: Connection, *conditions: ColumnElement[bool]) -> InputRequestRecord | None:
    row = connection.execute(_joined().where(*conditions)).mappings().first()
    return None if row is None else _record(row)


def _record(row: RowMapping) -> InputRequestRecord:
    return {
        "id": row["id"],
        "flow_run_id": row["flow_run_id"],
        "key": row["key"],
        "schema": row["schema"] or {},
        "description": row["description"],
        "status": row["status"],
        "answer": row["answer"],
        "answered_by": row["answered_by"],
        "answered_at": isoformat(row["answered_at"]),
        "error": row["error"],
        "created": isoformat(row["created"]),
        "timeout_at": isoformat(row["timeout_at"]),
        "flow_run_name": row["flow_run_name"],
        "flow_name": row["flow_name"],
        "state": row["state_name"],
        "state_type": None if row["state_type"] is None else state_type(row["state_type"]),
    }
