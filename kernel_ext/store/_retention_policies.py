"""Where retention policies live: a deployment's own on its row, the default in
``store_settings``; and the cuts they make at a given time (see ``_retention``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from kernel_ext.store._lookups import find_deployment
from kernel_ext.store._retention import Cut, RetentionPolicy
from kernel_ext.store._tables import deployments, store_settings

__all__ = ["cut_of", "policy_cuts", "read_policy", "write_policy"]

_KEY = "retention"


def write_policy(
    connection: Connection, policy: RetentionPolicy | None, deployment: str | None
) -> RetentionPolicy | None:
    """Set (None: clear) the policy of ``deployment`` (a name or id), or the default."""
    value = None if policy is None else dict(policy)
    if deployment is not None:
        row = find_deployment(connection, deployment, lock=True)
        connection.execute(
            update(deployments).where(deployments.c.id == row["id"]).values(retention=value)
        )
        return policy
    connection.execute(delete(store_settings).where(store_settings.c.key == _KEY))
    if value is not None:
        now = datetime.now(UTC)
        connection.execute(insert(store_settings).values(key=_KEY, value=value, updated=now))
    return policy


def read_policy(connection: Connection, deployment: str | None) -> RetentionPolicy | None:
    """The policy of ``deployment`` (its own only), or the default."""
    if deployment is not None:
        return _policy(find_deployment(connection, deployment)["retention"])
    query = select(store_settings.c.value).where(store_settings.c.key == _KEY)
    return _policy(connection.execute(query).scalar())


def policy_cuts(connection: Connection, now: float) -> list[tuple[str | None, Cut]]:
    """Every policy's cut now: each deployment with its own, then the default for the
    rest (runs outside deployments included), each named by its deployment (None)."""
    rows = connection.execute(
        select(deployments.c.id, deployments.c.name, deployments.c.retention).where(
            deployments.c.retention.is_not(None)
        )
    ).all()
    own = [(row.id, row.name, _policy(row.retention)) for row in rows]
    cuts = [(name, cut_of(policy, now, id_)) for id_, name, policy in own if policy is not None]
    default = read_policy(connection, None)
    if default is not None:
        cuts.append((None, cut_of(default, now, None, besides=[id_ for id_, _, _ in own])))
    return cuts


def cut_of(
    policy: RetentionPolicy, now: float, deployment: str | None, besides: list[str] | None = None
) -> Cut:
    older, failed = policy.get("older_than"), policy.get("keep_failed")
    if older is not None and failed is not None:
        failed = max(failed, older)
    return Cut(
        None if older is None else datetime.fromtimestamp(now - older, UTC),
        None if failed is None else datetime.fromtimestamp(now - failed, UTC),
        deployment,
        policy.get("keep"),
        besides or (),
    )


def _policy(value: object) -> RetentionPolicy | None:
    if not isinstance(value, dict):
        return None
    return {
        "older_than": value.get("older_than"),
        "keep": value.get("keep"),
        "keep_failed": value.get("keep_failed"),
    }
