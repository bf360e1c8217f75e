"""Artifacts: what a run publishes for people (a report, a table, a link, its progress).

Each artifact is a row written in a transaction of its own, so the console and the CLI see
it as soon as the code that created it goes on. A keyed artifact has a history: every row
with that key, oldest first, across runs; the key's latest row is the one listed.
A progress artifact is the one kind that changes in place.

A table is stored as JSON text, as Prefect stores it, and read back as JSON: PostgreSQL's
JSONB would reorder its columns (it sorts an object's keys).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.engine import Connection, Row

from kernel_ext._errors import ArtifactNotFound
from kernel_ext.store._tables import artifacts
from kernel_ext.store._types import from_epoch, isoformat
from kernel_ext.store.records import ArtifactRecord

__all__ = [
    "create_artifact",
    "delete_run_artifacts",
    "list_artifacts",
    "list_run_artifacts",
    "read_artifact",
    "update_artifact",
]

_NEWEST_FIRST = (artifacts.c.created.desc(), artifacts.c.id.desc())


def create_artifact(
    connection: Connection,
    artifact_id: str,
    kind: str,
    data: Any,
    *,
    key: str | None,
    description: str | None,
    flow_run_id: str | None,
    task_run_id: str | None,
    now: float,
) -> ArtifactRecord:
    moment = from_epoch(now)
    connection.execute(
        artifacts.insert().values(
            id=artifact_id,
            key=key,
            type=kind,
            data=_encoded(kind, data),
            description=description,
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            created=moment,
            updated=moment,
        )
    )
    return read_artifact(connection, artifact_id)


def update_artifact(
    connection: Connection,
    artifact_id: str,
    data: Any,
    description: str | None,
    now: float,
    *,
    kind: str | None = None,
) -> ArtifactRecord:
    """Replace the artifact's data (and its description, when given)."""
    values: dict[str, Any] = {"data": _encoded(kind, data), "updated": from_epoch(now)}
    if description is not None:
        values["description"] = description
    query = update(artifacts).where(artifacts.c.id == artifact_id)
    if kind is not None:
        query = query.where(artifacts.c.type == kind)
    if not connection.execute(query.values(**values)).rowcount:
        read_artifact(connection, artifact_id)  # raises when there is none
        raise ArtifactNotFound(
            f"Artifact {artifact_id} is not a {kind} artifact; only a progress artifact "
            "is updated in place.",
            artifact_id=artifact_id,
        )
    return read_artifact(connection, artifact_id)


def read_artifact(connection: Connection, artifact_id: str) -> ArtifactRecord:
    row = connection.execute(select(artifacts).where(artifacts.c.id == artifact_id)).first()
    if row is None:
        raise ArtifactNotFound(
            f"No artifact {artifact_id}; `taskbook artifacts ls` lists them.",
            artifact_id=artifact_id,
        )
    return _record(row)


def list_artifacts(
    connection: Connection,
    *,
    flow_run_ids: list[str] | None = None,
    task_run_id: str | None = None,
    key: str | None = None,
    kind: str | None = None,
    latest: bool = False,
    limit: int = 200,
) -> list[ArtifactRecord]:
    """Artifacts, newest first: of some flow runs or a task run, of one key (its
    history), of a type; ``latest`` keeps each key's newest row only (unkeyed ones are
    left out)."""
    query: Select[Any] = select(artifacts)
    if flow_run_ids is not None:
        query = query.where(artifacts.c.flow_run_id.in_(flow_run_ids))
    if task_run_id is not None:
        query = query.where(artifacts.c.task_run_id == task_run_id)
    if key is not None:
        query = query.where(artifacts.c.key == key)
    if kind is not None:
        query = query.where(artifacts.c.type == kind)
    if latest:
        query = query.where(artifacts.c.key.is_not(None), artifacts.c.created == _latest_of_key())
    rows = connection.execute(query.order_by(*_NEWEST_FIRST).limit(limit))
    return [_record(row) for row in rows]


def list_run_artifacts(
    connection: Connection, run_id: str, limit: int = 500
) -> list[ArtifactRecord]:
    """The artifacts of a flow run and of its subflows at any depth, oldest first (the
    order they were made in, as a run's page lists them)."""
    from kernel_ext.store._reads import find_flow_run, run_not_found
    from kernel_ext.store._run_admin import run_subtree

    if find_flow_run(connection, run_id) is None:
        raise run_not_found("flow run", run_id)
    flows, _ = run_subtree(connection, run_id)
    found: list[ArtifactRecord] = []
    for start in range(0, len(flows), 500):
        chunk = flows[start : start + 500]
        query = select(artifacts).where(artifacts.c.flow_run_id.in_(chunk))
        query = query.order_by(artifacts.c.created, artifacts.c.id).limit(limit)
        found.extend(_record(row) for row in connection.execute(query))
    found.sort(key=lambda record: (record["created"], record["id"]))
    return found[:limit]


def _latest_of_key() -> Any:
    same = artifacts.alias("same_key")
    return select(func.max(same.c.created)).where(same.c.key == artifacts.c.key).scalar_subquery()


def delete_run_artifacts(connection: Connection, flow_run_ids: list[str]) -> int:
    if not flow_run_ids:
        return 0
    statement = delete(artifacts).where(artifacts.c.flow_run_id.in_(flow_run_ids))
    return connection.execute(statement).rowcount or 0


def _encoded(kind: str | None, data: Any) -> Any:
    return json.dumps(data) if kind == "table" else data


def _decoded(kind: str, data: Any) -> Any:
    return json.loads(data) if kind == "table" and isinstance(data, str) else data


def _record(row: Row[Any]) -> ArtifactRecord:
    created: datetime = row.created
    return {
        "id": row.id,
        "key": row.key,
        "type": row.type,
        "data": _decoded(row.type, row.data),
        "description": row.description,
        "flow_run_id": row.flow_run_id,
        "task_run_id": row.task_run_id,
        "created": isoformat(created) or "",
        "updated": isoformat(row.updated) or "",
    }
