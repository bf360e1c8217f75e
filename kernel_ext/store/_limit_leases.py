"""Concurrency and rate limits: named limits, and the leased slots taken from them.

A limit has a name (which also bounds the task runs tagged with it), at most ``slots``
holders' worth of slots at once, and/or a rate of ``per_second`` starts with a ``burst``.

Concurrency: a slot is held by a *lease* that expires at ``expires_at`` unless its holder
renews it, so a holder that dies gives its slots back within one lease period. Taking
slots counts the unexpired leases and inserts new ones in one transaction. Exactly the
limit, however many processes race:

- PostgreSQL: the limit rows are locked (``SELECT ... FOR UPDATE``, in name order so two
  callers taking several limits cannot deadlock) before the leases are counted, and the
  count (READ COMMITTED) sees every lease committed while we waited.
- SQLite: write transactions are ``BEGIN IMMEDIATE``, so they run one at a time.

A deployment with a ``concurrency_limit`` has the limit ``deployment:<name>``: a worker that
claims one of its runs takes a slot whose lease id is the run's id, renews it with the
run's heartbeat, and gives it back when the run leaves Pending/Running/Cancelling (see
``_claims`` and ``_deployment_runs``).

Rates follow GCRA (the generic cell rate algorithm): the row keeps ``next_free_at``, when
the next start is due; a start is allowed when that is at most ``(burst - 1) / per_second``
ahead of now, and moves it ``1 / per_second`` on. One row update per start, no history.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.engine import Connection, Row

from kernel_ext._errors import ConfigurationError, LimitNotFound
from kernel_ext.store._tables import concurrency_leases as leases
from kernel_ext.store._tables import concurrency_limits as limits
from kernel_ext.store._types import dialect_insert, from_epoch, isoformat

__all__ = [
    "delete_limit",
    "deployment_has_room",
    "deployment_slots_used",
    "has_run_slot",
    "hold_run_slot",
    "limit_names",
    "list_limits",
    "read_limit",
    "release_leases",
    "release_run_slot",
    "renew_leases",
    "renew_run_slot",
    "reset_limit",
    "set_limit",
    "sync_deployment_limit",
    "take_rate",
    "take_slots",
]

from kernel_ext.store.records import (
    DEPLOYMENT_LIMIT_PREFIX,
    LeaseRecord,
    LimitDetail,
    LimitRecord,
)


def set_limit(
    connection: Connection,
    name: str,
    slots: int | None,
    per_second: float | None,
    burst: int | None,
    now: float,
) -> LimitRecord:
    """Create limit ``name`` or replace its slots and rate; leases already held are kept.

    A changed rate keeps the backlog of the old one, cut to what the new rate allows.
    """
    _check_limit(name, slots, per_second, burst)
    moment = from_epoch(now)
    values: dict[str, Any] = {"slots": slots, "per_second": per_second, "updated": moment}
    if burst is not None:
        values["burst"] = burst
    row = connection.execute(
        select(limits.c.per_second, limits.c.burst, limits.c.next_free_at).where(
            limits.c.name == name
        )
    ).first()
    if row is not None and row.per_second != per_second and row.next_free_at is not None:
        # Keep the backlog, but no longer than the new rate would have built it.
        ceiling = now + (burst or row.burst) / per_second if per_second else now
        values["next_free_at"] = from_epoch(min(row.next_free_at.timestamp(), ceiling))
    _upsert(connection, name, values, moment)
    return read_limit(connection, name, now)


def delete_limit(connection: Connection, name: str) -> bool:
    # The limit row first, as every taker locks it: then the leases (no deadlock).
    found = bool(_lock_limits(connection, [name]))
    connection.execute(delete(leases).where(leases.c.limit_name == name))
    connection.execute(delete(limits).where(limits.c.name == name))
    return found


def reset_limit(connection: Connection, name: str, now: float) -> LimitRecord:
    """Give back every slot of ``name`` (its holders keep running, unbounded)."""
    if not _lock_limits(connection, [name]):
        _find(connection, name)  # raises
    connection.execute(delete(leases).where(leases.c.limit_name == name))
    connection.execute(update(limits).where(limits.c.name == name).values(next_free_at=None))
    return read_limit(connection, name, now)


def limit_names(connection: Connection) -> list[str]:
    """The names of the limits with slots (what tagged task runs look up)."""
    query = select(limits.c.name).where(limits.c.slots.is_not(None)).order_by(limits.c.name)
    return list(connection.scalars(query))


def list_limits(connection: Connection, now: float) -> list[LimitRecord]:
    used = _used_slots(now)
    query = (
        select(limits, func.coalesce(used.c.used, 0).label("used"), used.c.holders)
        .select_from(limits.outerjoin(used, used.c.limit_name == limits.c.name))
        .order_by(limits.c.name)
    )
    return [_record(row) for row in connection.execute(query)]


def read_limit(connection: Connection, name: str, now: float) -> LimitDetail:
    """A limit with its unexpired ``leases``, oldest first."""
    record = next((r for r in list_limits(connection, now) if r["name"] == name), None)
    if record is None:
        _find(connection, name)  # raises
    assert record is not None
    query = (
        select(leases)
        .where(leases.c.limit_name == name, leases.c.expires_at > from_epoch(now))
        .order_by(leases.c.acquired_at, leases.c.id)
    )
    held: list[LeaseRecord] = [
        {
            "id": row.id,
            "slots": row.slots,
            "holder": row.holder,
            "acquired_at": isoformat(row.acquired_at),
            "expires_at": isoformat(row.expires_at),
        }
        for row in connection.execute(query)
    ]
    return {**record, "leases": held}


def take_slots(
    connection: Connection,
    names: Sequence[str],
    occupy: int,
    holder: str,
    now: float,
    lease_seconds: float,
) -> tuple[list[str], list[str], str | None]:
    """Take ``occupy`` slots of every limit in ``names`` at once, or none.

    Returns (lease ids, names without a concurrency limit, the name of a full limit).
    Names without a limit take nothing; when one limit is full nothing is taken.
    """
    moment = from_epoch(now)
    found = _lock_limits(connection, sorted(set(names)))
    bounded = [row for row in found if row.slots is not None]
    unbounded = sorted(set(names) - {row.name for row in bounded})
    if not bounded:
        return [], unbounded, None
    for row in bounded:
        if occupy > row.slots:
            raise ConfigurationError(
                f"Asked for {occupy} slots of limit {row.name!r}, which has {row.slots}: "
                f"it could never be granted. Ask for fewer, or raise the limit with "
                f"`taskbook limits set {row.name} {occupy}`."
            )
        if _used(connection, row.name, moment) + occupy > row.slots:
            return [], unbounded, row.name
    _forget_expired(connection, [row.name for row in bounded], moment)
    expires = from_epoch(now + lease_seconds)
    ids = []
    for row in bounded:
        lease_id = str(uuid.uuid4())
        connection.execute(
            leases.insert().values(
                id=lease_id,
                limit_name=row.name,
                slots=occupy,
                holder=holder,
                acquired_at=moment,
                expires_at=expires,
            )
        )
        ids.append(lease_id)
    return ids, unbounded, None


def release_leases(connection: Connection, lease_ids: Sequence[str]) -> int:
    if not lease_ids:
        return 0
    return int(connection.execute(delete(leases).where(leases.c.id.in_(lease_ids))).rowcount)


def renew_leases(
    connection: Connection, lease_ids: Sequence[str], now: float, lease_seconds: float
) -> int:
    """Push back the expiry of the leases still held; returns how many were."""
    if not lease_ids:
        return 0
    statement = (
        update(leases)
        .where(leases.c.id.in_(lease_ids), leases.c.expires_at > from_epoch(now))
        .values(expires_at=from_epoch(now + lease_seconds))
    )
    return int(connection.execute(statement).rowcount)


def take_rate(
    connection: Connection,
    name: str,
    occupy: int,
    per_second: float | None,
    burst: int | None,
    now: float,
) -> float | None:
    """Start ``occupy`` units under rate limit ``name``: 0.0 if allowed now, else the
    seconds to wait before asking again; None when ``name`` has no rate.

    ``per_second`` (and ``burst``), when given, create or change the limit's rate first.
    """
    if per_second is not None:
        _ensure_rate(connection, name, per_second, burst, now)
    rows = _lock_limits(connection, [name])
    if not rows or rows[0].per_second is None:
        return None
    row = rows[0]
    if occupy > row.burst:
        raise ConfigurationError(
            f"Asked for {occupy} starts at once under rate limit {name!r}, whose burst is "
            f"{row.burst}: it could never be granted. Ask for fewer, or raise the burst with "
            f"`taskbook limits set {name} --per-second {row.per_second:g} --burst {occupy}`."
        )
    interval = 1.0 / float(row.per_second)
    tolerance = (int(row.burst) - 1) * interval
    due = max(now, float(row.next_free_at.timestamp()) if row.next_free_at else now)
    ahead = due + (occupy - 1) * interval - now
    if ahead > tolerance + 1e-9:
        return ahead - tolerance
    connection.execute(
        update(limits)
        .where(limits.c.name == name)
        .values(next_free_at=from_epoch(due + occupy * interval))
    )
    return 0.0


# --- deployment runs ----------------------------------------------------------------------


def deployment_slots_used(deployment_name: Any, moment: datetime) -> Any:
    """A scalar subquery: the slots of ``deployment:<name>`` leased at ``moment``."""
    return (
        select(func.coalesce(func.sum(leases.c.slots), 0))
        .where(leases.c.limit_name == literal(DEPLOYMENT_LIMIT_PREFIX).concat(deployment_name))
        .where(leases.c.expires_at > moment)
        .scalar_subquery()
    )


def deployment_has_room(connection: Connection, name: str, slots: int, now: float) -> bool:
    """Lock the deployment's limit (creating it as the deployment says), then count its
    leases as committed now. Called inside a claim's transaction."""
    limit_name = DEPLOYMENT_LIMIT_PREFIX + name
    _ensure_slots(connection, limit_name, slots, now)
    _lock_limits(connection, [limit_name])
    return _used(connection, limit_name, from_epoch(now)) < slots


def hold_run_slot(
    connection: Connection, name: str, run_id: str, holder: str, now: float, lease_seconds: float
) -> None:
    """Lease one slot of deployment ``name`` to the run (lease id = run id)."""
    values = {
        "id": run_id,
        "limit_name": DEPLOYMENT_LIMIT_PREFIX + name,
        "slots": 1,
        "holder": holder,
        "acquired_at": from_epoch(now),
        "expires_at": from_epoch(now + lease_seconds),
    }
    connection.execute(delete(leases).where(leases.c.id == run_id))
    connection.execute(leases.insert().values(**values))


def sync_deployment_limit(connection: Connection, name: str, slots: int | None, now: float) -> None:
    """Make ``deployment:<name>`` say what the deployment says (no limit: no row)."""
    if slots is not None:
        _ensure_slots(connection, DEPLOYMENT_LIMIT_PREFIX + name, slots, now)
    else:
        delete_limit(connection, DEPLOYMENT_LIMIT_PREFIX + name)


def renew_run_slot(connection: Connection, run_id: str, now: float, lease_seconds: float) -> bool:
    """Extend the run's unexpired slot; False if it has none (expired, or never had)."""
    statement = update(leases).where(leases.c.id == run_id, leases.c.expires_at > from_epoch(now))
    renewed = connection.execute(statement.values(expires_at=from_epoch(now + lease_seconds)))
    return bool(renewed.rowcount)


def has_run_slot(connection: Connection, run_id: str) -> bool:
    """Whether the run holds (or held, now expired) a deployment slot."""
    return connection.scalar(select(leases.c.id).where(leases.c.id == run_id)) is not None


def release_run_slot(connection: Connection, run_id: str) -> None:
    connection.execute(delete(leases).where(leases.c.id == run_id))


def _ensure_slots(connection: Connection, name: str, slots: int, now: float) -> None:
    row = connection.execute(select(limits.c.slots).where(limits.c.name == name)).first()
    if row is None or row.slots != slots:
        moment = from_epoch(now)
        _upsert(connection, name, {"slots": slots, "updated": moment}, moment)


def _upsert(connection: Connection, name: str, values: dict[str, Any], moment: datetime) -> None:
    """Insert or update a limit row in one statement: two first uses cannot collide."""
    upsert = dialect_insert(connection)
    statement = upsert(limits).values(name=name, created=moment, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))


# --- helpers ------------------------------------------------------------------------------


def _check_limit(name: str, slots: int | None, per_second: float | None, burst: int | None) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError("A limit needs a name, e.g. `taskbook limits set openai 4`.")
    if slots is None and per_second is None:
        raise ConfigurationError(
            f"Limit {name!r} needs a number of slots or a rate (--per-second), or both."
        )
    if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int) or slots < 0):
        raise ConfigurationError(
            f"The slots of limit {name!r} must be a whole number, 0 or more, got {slots!r}."
        )
    if per_second is not None and (
        isinstance(per_second, bool)
        or not isinstance(per_second, (int, float))
        or not per_second > 0
    ):
        raise ConfigurationError(
            f"The rate of limit {name!r} must be a number more than 0 per second, got "
            f"{per_second!r}."
        )
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
        raise ConfigurationError(f"The burst of limit {name!r} must be 1 or more, got {burst}.")


def _ensure_rate(
    connection: Connection, name: str, per_second: float, burst: int | None, now: float
) -> None:
    row = connection.execute(select(limits).where(limits.c.name == name)).first()
    if row is not None and row.per_second == per_second and (burst in (None, row.burst)):
        return
    slots = row.slots if row is not None else None
    set_limit(connection, name, slots, per_second, burst, now)


def _lock_limits(connection: Connection, names: Sequence[str]) -> list[Row[Any]]:
    query = select(limits).where(limits.c.name.in_(names)).order_by(limits.c.name)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return list(connection.execute(query))


def _used(connection: Connection, name: str, moment: datetime) -> int:
    query = select(func.coalesce(func.sum(leases.c.slots), 0)).where(
        leases.c.limit_name == name, leases.c.expires_at > moment
    )
    return int(connection.scalar(query) or 0)


def _used_slots(now: float) -> Any:
    return (
        select(
            leases.c.limit_name,
            func.sum(leases.c.slots).label("used"),
            func.count().label("holders"),
        )
        .where(leases.c.expires_at > from_epoch(now))
        .group_by(leases.c.limit_name)
        .subquery()
    )


def _forget_expired(connection: Connection, names: Sequence[str], moment: datetime) -> None:
    # A deployment run's expired slot stays: its next heartbeat looks for it (``_claims``).
    names = [n for n in names if not n.startswith(DEPLOYMENT_LIMIT_PREFIX)]
    connection.execute(
        delete(leases).where(leases.c.limit_name.in_(names), leases.c.expires_at <= moment)
    )


def _find(connection: Connection, name: str) -> Row[Any]:
    row = connection.execute(select(limits).where(limits.c.name == name)).first()
    if row is None:
        raise LimitNotFound(
            f"There is no limit named {name!r}; list them with `taskbook limits ls`, or "
            f"create it with `taskbook limits set {name} N`.",
            name=name,
        )
    return row


def _record(row: Row[Any]) -> LimitRecord:
    return {
        "name": row.name,
        "slots": row.slots,
        "used": int(row.used or 0),
        "holders": int(row.holders or 0),
        "per_second": row.per_second,
        "burst": row.burst,
        "next_free_at": isoformat(row.next_free_at),
        "created": isoformat(row.created),
        "updated": isoformat(row.updated),
    }
