"""Pruning old runs: which finished runs a cut leaves behind, and removing them in batches.

A run goes when it ended (its end time) before the cut; one that failed or crashed can be
kept until an earlier cut (``keep_failed``). Only top-level runs in a final state are
chosen: a subflow goes with its parent, and a run still running, paused or scheduled never
goes. Each batch is one short transaction (``delete_batch``) over ``_run_admin``'s
``delete_subtrees``: on SQLite a write transaction locks the whole file, so the batches stay
small and the caller sleeps between them, and the engine's batched writer and the workers
only ever wait for one batch. On PostgreSQL the chosen rows are locked ``SKIP LOCKED``, so
several schedulers pruning at once split the work instead of waiting on each other (and
deleting a run twice would be harmless anyway).

A batch returns the result locations and output notebooks its runs held; the files go after
the commit (``_retention_files``), a result file only if no remaining row points at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select
from sqlalchemy.engine import Connection

from kernel_ext._states import FINAL_TYPE_VALUES, StateType
from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._run_admin import RemovedRows, delete_subtrees, live_cache, run_subtrees
from kernel_ext.store._tables import (
    artifacts,
    automation_firings,
    events,
    flow_runs,
    logs,
    results,
    run_inputs,
    state_history,
    task_runs,
)

__all__ = [
    "Cut",
    "Expired",
    "count_expired",
    "count_old_events",
    "delete_batch",
    "delete_expired_orphans",
    "delete_old_events",
    "referenced",
]

FAILED_VALUES = (StateType.FAILED.value, StateType.CRASHED.value)
_CHUNK = 500


class RetentionPolicy(TypedDict):
    """How long runs are kept: a run goes when it ended more than ``older_than`` seconds ago
    (``keep_failed`` seconds for one that failed or crashed, if longer), or when it is not
    among its deployment's ``keep`` newest finished runs (a deployment's policy only).
    None: that rule does not apply."""

    older_than: float | None
    keep: int | None
    keep_failed: float | None


class Cut:
    """What goes: runs that ended before ``before`` (failed or crashed ones before
    ``failed_before`` when given) or beyond the ``keep`` newest of ``deployment``; of one
    deployment when ``deployment`` (a name or id) is given, else of none of ``besides``."""

    __slots__ = ("before", "besides", "deployment", "failed_before", "keep")

    def __init__(
        self,
        before: datetime | None,
        failed_before: datetime | None = None,
        deployment: str | None = None,
        keep: int | None = None,
        besides: Sequence[str] = (),
    ) -> None:
        self.before, self.failed_before, self.deployment = before, failed_before, deployment
        self.keep, self.besides = keep, tuple(besides)

    def where(self, connection: Connection) -> ColumnElement[bool]:
        deployment_id = None
        if self.deployment is not None:
            deployment_id = find_deployment(connection, self.deployment)["id"]
        clause = self._mine(flow_runs, deployment_id)
        rules = [rule for rule in (self._aged(), self._beyond(deployment_id)) if rule is not None]
        return and_(clause, or_(*rules)) if rules else false()

    def _mine(self, table: Any, deployment_id: str | None) -> ColumnElement[bool]:
        """The finished top-level runs this cut is about, in ``table`` (flow runs)."""
        clause = and_(
            table.c.parent_task_run_id.is_(None),
            table.c.state_type.in_(FINAL_TYPE_VALUES),
            table.c.end_time.is_not(None),
        )
        if deployment_id is not None:
            return and_(clause, table.c.deployment_id == deployment_id)
        if self.besides:  # the deployments with a policy of their own
            others = or_(table.c.deployment_id.is_(None), ~table.c.deployment_id.in_(self.besides))
            return and_(clause, others)
        return clause

    def _aged(self) -> ColumnElement[bool] | None:
        if self.before is None:
            return None
        ended = flow_runs.c.end_time < self.before
        if self.failed_before is None:
            return ended
        # The outer bound lets the end-time index limit the scan (else every top-level
        # run is read and sorted while the write lock is held).
        latest = flow_runs.c.end_time < max(self.before, self.failed_before)
        either = or_(and_(~self._failed(), ended), flow_runs.c.end_time < self.failed_before)
        return and_(latest, either)

    def _beyond(self, deployment_id: str | None) -> ColumnElement[bool] | None:
        """Not among the ``keep`` newest (a run ending at the same instant as the first
        one beyond goes too); failed runs still inside ``keep_failed`` stay."""
        if self.keep is None or deployment_id is None:
            return None
        newest = flow_runs.alias("newest")
        nth = (
            select(newest.c.end_time)
            .where(self._mine(newest, deployment_id))
            .order_by(newest.c.end_time.desc())
            .offset(self.keep)
            .limit(1)
            .scalar_subquery()
        )
        beyond = flow_runs.c.end_time <= nth
        if self.failed_before is None:
            return beyond
        return and_(beyond, or_(~self._failed(), flow_runs.c.end_time < self.failed_before))

    @staticmethod
    def _failed() -> ColumnElement[bool]:
        return flow_runs.c.state_type.in_(FAILED_VALUES)


class Expired:
    """One batch deleted: the rows removed, and the files its runs pointed at."""

    __slots__ = ("flow_runs", "locations", "notebooks", "removed")

    def __init__(
        self, flow_runs: int, removed: RemovedRows, locations: list[str], notebooks: list[str]
    ) -> None:
        self.flow_runs, self.removed = flow_runs, removed
        self.locations, self.notebooks = locations, notebooks


def delete_batch(connection: Connection, cut: Cut, limit: int) -> Expired:
    """Delete up to ``limit`` expired runs, oldest first, with everything under them."""
    query = select(flow_runs.c.id, flow_runs.c.output_notebook).where(cut.where(connection))
    query = query.order_by(flow_runs.c.end_time).limit(limit)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    chosen = connection.execute(query).all()
    flows, tasks = run_subtrees(connection, [row.id for row in chosen])
    locations = sorted(set(_values(connection, results.c.location, results.c.task_run_id, tasks)))
    notebooks = [row.output_notebook for row in chosen if row.output_notebook]
    removed = delete_subtrees(connection, flows, tasks, keep_cached_after=datetime.now(UTC))
    return Expired(len(chosen), removed, locations, notebooks)


def delete_old_events(connection: Connection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` recorded events that occurred before ``before``, oldest
    first, and the finished firings of automations fired before it. (A state change's
    event is its history row: it goes with its run.)"""
    seqs = (
        connection.execute(
            select(events.c.seq)
            .where(events.c.occurred < before)
            .order_by(events.c.seq)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    for start in range(0, len(seqs), _CHUNK):
        connection.execute(delete(events).where(events.c.seq.in_(seqs[start : start + _CHUNK])))
    finished = automation_firings.c.state != "pending"
    connection.execute(
        delete(automation_firings).where(finished, automation_firings.c.fired < before)
    )
    return len(seqs)


def count_old_events(connection: Connection, before: datetime) -> int:
    query = select(func.count()).select_from(events).where(events.c.occurred < before)
    return int(connection.execute(query).scalar_one())


def delete_expired_orphans(connection: Connection, moment: datetime, limit: int) -> list[str]:
    """The result index entries a prune kept for their cache, once that cache has
    expired (their task runs are gone): deleted, and their locations returned, for the
    files that no entry points at any more."""
    orphan = and_(
        results.c.expiration.is_not(None),
        results.c.expiration <= moment,
        ~exists().where(task_runs.c.id == results.c.task_run_id),
    )
    rows = connection.execute(
        select(results.c.id, results.c.location).where(orphan).limit(limit)
    ).all()
    for start in range(0, len(rows), _CHUNK):
        ids = [row.id for row in rows[start : start + _CHUNK]]
        connection.execute(delete(results).where(results.c.id.in_(ids)))
    return sorted({row.location for row in rows})


def count_expired(connection: Connection, cut: Cut) -> tuple[Expired, list[str]]:
    """What ``delete_batch`` would remove now, all batches together, without removing it;
    with the task runs concerned (to tell which result files only they point at)."""
    chosen = connection.execute(
        select(flow_runs.c.id, flow_runs.c.output_notebook).where(cut.where(connection))
    ).all()
    flows, tasks = run_subtrees(connection, [row.id for row in chosen])
    removed: RemovedRows = {
        "subflows": len(flows),
        "task_runs": len(tasks),
        # A task run's lines carry its flow run's id too: count them once.
        "log_lines": _count(connection, logs.c.flow_run_id, flows)
        + _count(connection, logs.c.task_run_id, tasks, logs.c.flow_run_id.is_(None)),
        "results": _count(connection, results.c.task_run_id, tasks, ~live_cache(datetime.now(UTC))),
        "input_requests": _count(connection, run_inputs.c.flow_run_id, flows),
        "artifacts": _count(connection, artifacts.c.flow_run_id, flows),
        "states": _count(connection, state_history.c.run_id, flows + tasks),
    }
    locations = sorted(set(_values(connection, results.c.location, results.c.task_run_id, tasks)))
    notebooks = [row.output_notebook for row in chosen if row.output_notebook]
    return Expired(len(chosen), removed, locations, notebooks), tasks


def referenced(
    connection: Connection, locations: Sequence[str], besides: Sequence[str] = ()
) -> set[str]:
    """The locations a ``results`` row still points at (a cached result another run
    uses), leaving out the rows of the task runs ``besides``."""
    found: set[str] = set()
    skip = set(besides)
    for start in range(0, len(locations), _CHUNK):
        chunk = list(locations[start : start + _CHUNK])
        live = live_cache(datetime.now(UTC)).label("live")
        rows = connection.execute(
            select(results.c.location, results.c.task_run_id, live).where(
                results.c.location.in_(chunk)
            )
        )
        # A cache that still holds keeps its file, whoever's run made it (see
        # delete_batch).
        found.update(row.location for row in rows if row.task_run_id not in skip or row.live)
    return found


def _count(connection: Connection, column: Any, ids: list[str], *also: Any) -> int:
    total = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        total += connection.execute(
            select(func.count()).select_from(column.table).where(column.in_(chunk), *also)
        ).scalar_one()
    return total


def _values(connection: Connection, wanted: Any, column: Any, ids: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.extend(connection.execute(select(wanted).where(column.in_(chunk))).scalars())
    return found
