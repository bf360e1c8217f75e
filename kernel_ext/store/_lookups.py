"""Finding a deployment by its name or its id, and the error when there is none."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, RowMapping

from kernel_ext._errors import DeploymentNotFound
from kernel_ext.store._tables import deployments

__all__ = ["find_deployment", "no_deployment"]


def find_deployment(connection: Connection, name_or_id: str, lock: bool = False) -> RowMapping:
    """The deployment named ``name_or_id`` (or with that id); ``lock`` its row until commit
    (PostgreSQL; SQLite's write transactions hold the whole database already)."""
    query = select(deployments).where(
        or_(deployments.c.name == name_or_id, deployments.c.id == name_or_id)
    )
    if lock:
        query = query.with_for_update()
    rows = connection.execute(query).mappings().all()
    if not rows:
        raise no_deployment(name_or_id)
    # A name that is also another deployment's id: the name wins.
    return next((row for row in rows if row.name == name_or_id), rows[0])


def no_deployment(name_or_id: str) -> DeploymentNotFound:
    return DeploymentNotFound(
        f"No deployment named {name_or_id!r}; see `taskbook deployments ls`, or promote a "
        "notebook with `taskbook deploy NOTEBOOK --name NAME`.",
        name=name_or_id,
    )
