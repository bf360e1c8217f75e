"""Deployments and their versions: promoted, read, listed, paused and deleted.

A deployment is a name and its settings (paused, concurrency limit, retries, tags); each
promotion of a changed notebook adds a version with a verbatim snapshot of the notebook
and its parameter schema. Every call is a synchronous transaction, like ``_input_requests``:
the scheduler and the workers in other processes must see a promotion at once.

Promoting is declarative: the settings given replace the deployment's (``paused`` is
left alone), and a new version is added only if the notebook's SHA-256 differs from the
latest version's. Two processes promoting the same name at once are serialised on the
deployment's row (``INSERT ... ON CONFLICT DO NOTHING``, then ``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are serial anyway), so version numbers never
collide.

A deployment is named by its name or its id wherever one is asked for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import ConfigurationError, VersionNotFound
from kernel_ext._states import Cancelled, StateType
from kernel_ext.store._deployment_runs import set_run_state
from kernel_ext.store._event_writes import deployment_resource, record_event
from kernel_ext.store._limit_leases import sync_deployment_limit
from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._reads import flow_run_record, flow_runs_query
from kernel_ext.store._schedules import schedules_by_deployment
from kernel_ext.store._tables import (
    deployment_versions,
    deployments,
    flow_runs,
    schedules,
    state_history,
)
from kernel_ext.store._types import dialect_insert, dumps, isoformat, state_type

__all__ = [
    "create_deployment_version",
    "delete_deployment",
    "list_deployments",
    "list_runs_of_deployment",
    "read_deployment",
    "read_deployment_version",
    "set_deployment_paused",
]

from kernel_ext.store.records import (
    DeletedDeployment,
    DeploymentDetail,
    DeploymentRecord,
    DeploymentSummary,
    FlowRunRecord,
    LastRun,
    NotebookVersion,
    PromotedDeployment,
    VersionRecord,
)


def create_deployment_version(
    connection: Connection,
    *,
    name: str,
    notebook_path: str,
    notebook: str | Mapping[str, Any],
    notebook_sha256: str,
    parameters: Sequence[Mapping[str, Any]],
    tags: Sequence[str],
    description: str | None,
    concurrency_limit: int | None,
    retries: int,
    profile: str | None = None,
) -> PromotedDeployment:
    settings = _settings(name, tags, description, concurrency_limit, retries, profile)
    now = datetime.now(UTC)
    _insert_if_new(connection, name, settings, now)
    row = find_deployment(connection, name, lock=True)
    if any(row[key] != value for key, value in settings.items()):
        connection.execute(
            update(deployments).where(deployments.c.id == row.id).values(updated=now, **settings)
        )
    sync_deployment_limit(connection, name, concurrency_limit, now.timestamp())
    latest = _versions(row.id, with_notebook=False).limit(1)
    previous = connection.execute(latest).mappings().first()
    # The same notebook with other defaults (promoted with other --param values) is a new
    # version: what a run gets changed.
    schema = [dict(p) for p in parameters]
    unchanged = (
        previous is not None
        and previous.notebook_sha256 == notebook_sha256
        and list(previous.parameters or ()) == schema
    )
    if not unchanged:
        number = 1 if previous is None else previous.version + 1
        text = notebook if isinstance(notebook, str) else dumps(notebook)
        connection.execute(
            deployment_versions.insert().values(
                id=str(uuid.uuid4()),
                deployment_id=row.id,
                version=number,
                notebook_path=notebook_path,
                notebook_sha256=notebook_sha256,
                notebook=text,
                parameters=schema,
                created=now,
            )
        )
    record = _deployment(find_deployment(connection, row.id))
    version = connection.execute(latest).mappings().one()
    if not unchanged:
        change = "created" if previous is None else "updated"
        record_event(
            connection,
            f"prefect.deployment.{change}",
            deployment_resource(row.id, name),
            payload={"version": version.version},
        )
    return {**record, "version": _version(version), "unchanged": unchanged}


def read_deployment(connection: Connection, name_or_id: str) -> DeploymentDetail:
    record = _deployment(find_deployment(connection, name_or_id))
    query = _versions(record["id"], with_notebook=False)
    versions = [_version(row) for row in connection.execute(query).mappings()]
    schedules = schedules_by_deployment(connection, [record["id"]], False)
    return {
        **record,
        "version": versions[0]["version"] if versions else None,
        "versions": versions,
        "schedules": schedules.get(record["id"], []),
    }


def read_deployment_version(
    connection: Connection, name_or_id: str, version: int | None
) -> NotebookVersion:
    row = find_deployment(connection, name_or_id)
    query = _versions(row.id, with_notebook=True)
    if version is not None:
        query = query.where(deployment_versions.c.version == version)
    found = connection.execute(query.limit(1)).mappings().first()
    if found is None:
        raise VersionNotFound(
            f"Deployment {row.name!r} has no version {version}; its versions are listed by "
            f"`taskbook deployments show {row.name}`.",
            name=row.name,
            version=version,
        )
    return {**_version(found), "notebook": found.notebook, "deployment_name": row.name}


def list_deployments(connection: Connection) -> list[DeploymentSummary]:
    rows = connection.execute(select(deployments).order_by(deployments.c.name)).mappings()
    records = [_deployment(row) for row in rows]
    ids = [record["id"] for record in records]
    latest = dict(
        connection.execute(
            select(
                deployment_versions.c.deployment_id, func.max(deployment_versions.c.version)
            ).group_by(deployment_versions.c.deployment_id)
        ).all()
    )
    schedules = schedules_by_deployment(connection, ids, False)
    last_runs = _last_runs(connection)
    next_runs = _next_runs(connection)
    return [
        {
            **record,
            "version": latest.get(record["id"]),
            "schedules": schedules.get(record["id"], []),
            **last_runs.get(record["id"], _NO_LAST_RUN),
            "next_run_time": isoformat(next_runs.get(record["id"])),
        }
        for record in records
    ]


def delete_deployment(connection: Connection, name_or_id: str) -> DeletedDeployment:
    """Delete the deployment, its versions, schedules and runs no worker has claimed;
    its runs that started and wait to go on end Cancelled.

    Runs that started keep their rows and history (their ``deployment_name`` becomes
    None): what ran stays on record.
    """
    find_deployment(connection, name_or_id, lock=True)  # a run being created waits
    record = read_deployment(connection, name_or_id)
    deployment_id = record["id"]
    of_it = flow_runs.c.deployment_id == deployment_id
    unclaimed = select(flow_runs.c.id).where(
        of_it,
        flow_runs.c.state_type == _SCHEDULED,
        flow_runs.c.worker_id.is_(None),  # a retry or a resumed run was claimed once
        flow_runs.c.start_time.is_(None),
    )
    connection.execute(delete(state_history).where(state_history.c.run_id.in_(unclaimed)))
    deleted = connection.execute(delete(flow_runs).where(flow_runs.c.id.in_(unclaimed)))
    # Runs that started and wait to go on (AwaitingRetry, Resuming, Suspended) would
    # wait for ever: no version is left to execute them. They end Cancelled, on record.
    stranded = select(flow_runs.c.id).where(
        of_it,
        or_(flow_runs.c.state_type == _SCHEDULED, flow_runs.c.state_name == "Suspended"),
    )
    gone = Cancelled(f"Its deployment {record['name']!r} was deleted.")
    for run_id in connection.execute(stranded).scalars().all():
        set_run_state(connection, run_id, gone)
    for table in (deployment_versions, schedules):
        connection.execute(delete(table).where(table.c.deployment_id == deployment_id))
    connection.execute(delete(deployments).where(deployments.c.id == deployment_id))
    sync_deployment_limit(connection, record["name"], None, time.time())
    record_event(
        connection,
        "prefect.deployment.deleted",
        deployment_resource(deployment_id, record["name"]),
        payload={"deleted_runs": deleted.rowcount},
    )
    return {**record, "deleted_runs": deleted.rowcount}


def set_deployment_paused(
    connection: Connection, name_or_id: str, paused: bool
) -> DeploymentDetail:
    row = find_deployment(connection, name_or_id)
    if row.paused != paused:
        statement = update(deployments).where(deployments.c.id == row.id)
        connection.execute(statement.values(paused=paused, updated=datetime.now(UTC)))
        change = "paused" if paused else "resumed"
        record_event(
            connection, f"prefect.deployment.{change}", deployment_resource(row.id, row.name)
        )
    return read_deployment(connection, row.id)


def list_runs_of_deployment(
    connection: Connection, name_or_id: str, limit: int
) -> list[FlowRunRecord]:
    """The deployment's runs, latest scheduled time first (future runs on top)."""
    row = find_deployment(connection, name_or_id)
    when = func.coalesce(flow_runs.c.scheduled_time, flow_runs.c.created)
    query = (
        flow_runs_query()
        .where(flow_runs.c.deployment_id == row.id)
        .order_by(when.desc(), flow_runs.c.created.desc(), flow_runs.c.id.desc())
        .limit(max(limit, 0))
    )
    return [flow_run_record(r) for r in connection.execute(query).mappings()]


def _settings(
    name: str,
    tags: Sequence[str],
    description: str | None,
    concurrency_limit: int | None,
    retries: int,
    profile: str | None = None,
) -> dict[str, Any]:
    if not name:
        raise ConfigurationError("A deployment needs a name; pass name='nightly-report'.")
    if concurrency_limit is not None and concurrency_limit < 1:
        raise ConfigurationError(
            f"concurrency_limit={concurrency_limit} would never let a run start; give at "
            "least 1, or None for no limit."
        )
    if retries < 0:
        raise ConfigurationError(f"retries={retries} is negative; give 0 or more.")
    _check_profile(profile)
    return {
        "profile": profile,
        "tags": list(tags),
        "description": description,
        "concurrency_limit": concurrency_limit,
        "retries": retries,
    }


def _insert_if_new(
    connection: Connection, name: str, settings: dict[str, Any], now: datetime
) -> None:
    insert = dialect_insert(connection)
    statement = insert(deployments).values(
        id=str(uuid.uuid4()), name=name, created=now, updated=now, paused=False, **settings
    )
    connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))


def _versions(deployment_id: str, with_notebook: bool) -> Select[Any]:
    columns = [c for c in deployment_versions.c if with_notebook or c.name != "notebook"]
    return (
        select(*columns)
        .where(deployment_versions.c.deployment_id == deployment_id)
        .order_by(deployment_versions.c.version.desc())
    )


_SCHEDULED = StateType.SCHEDULED.value

_NO_LAST_RUN: LastRun = {
    "last_run_id": None,
    "last_run_name": None,
    "last_run_state": None,
    "last_run_state_type": None,
    "last_run_time": None,
}


def _last_runs(connection: Connection) -> dict[str, LastRun]:
    """Per deployment, its latest run that left Scheduled (started, or skipped)."""
    rank = func.row_number().over(
        partition_by=flow_runs.c.deployment_id,
        order_by=(
            flow_runs.c.scheduled_time.desc().nulls_last(),
            flow_runs.c.created.desc(),
            flow_runs.c.id.desc(),
        ),
    )
    ranked = (
        select(flow_runs, rank.label("rank"))
        .where(_of_a_deployment(), flow_runs.c.state_type != _SCHEDULED)
        .subquery()
    )
    rows = connection.execute(select(ranked).where(ranked.c.rank == 1)).mappings()
    return {
        row.deployment_id: {
            "last_run_id": row.id,
            "last_run_name": row.name,
            "last_run_state": row.state_name,
            "last_run_state_type": state_type(row.state_type),
            "last_run_time": isoformat(row.start_time or row.scheduled_time or row.created),
        }
        for row in rows
    }


def _next_runs(connection: Connection) -> dict[str, datetime]:
    query = (
        select(flow_runs.c.deployment_id, func.min(flow_runs.c.scheduled_time))
        .where(_of_a_deployment(), flow_runs.c.state_type == _SCHEDULED)
        .group_by(flow_runs.c.deployment_id)
    )
    return dict(connection.execute(query).all())  # min() keeps the column's UTC type


def _of_a_deployment() -> ColumnElement[bool]:
    return flow_runs.c.deployment_id.is_not(None)


def _check_profile(profile: str | None) -> None:
    """A profile prefixes secret and variable names, so it follows their rule."""
    from kernel_ext._profiles import check_profile

    if profile is not None:
        check_profile(profile)


def _deployment(row: RowMapping) -> DeploymentRecord:
    return {
        "id": row.id,
        "name": row.name,
        "created": isoformat(row.created),
        "updated": isoformat(row.updated),
        "paused": bool(row.paused),
        "concurrency_limit": row.concurrency_limit,
        "retries": row.retries,
        "tags": list(row.tags or ()),
        "description": row.description,
        "profile": row.profile,
    }


def _version(row: RowMapping) -> VersionRecord:
    return {
        "id": row.id,
        "deployment_id": row.deployment_id,
        "version": row.version,
        "notebook_path": row.notebook_path,
        "notebook_sha256": row.notebook_sha256,
        "parameters": list(row.parameters or ()),
        "created": isoformat(row.created),
    }
