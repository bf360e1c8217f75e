"""Concurrency and rate limits, and the leases of the slots taken from them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written out rather than imported from the current tables, like 0001. Two new tables;
nothing existing changes. A deployment's ``concurrency_limit`` becomes the limit
``deployment:<name>``, and its runs already Pending, Running or Cancelling get their slots,
so the limit holds across the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Typed, so the times bind as the store's DateTime columns expect on both backends.
_TIME = sa.DateTime(timezone=True)


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "concurrency_limits",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slots", sa.Integer()),
        sa.Column("per_second", sa.Float()),
        sa.Column("burst", sa.Integer(), nullable=False, server_default=sa.text("1")),
        _time("next_free_at"),
        _time("created", nullable=False),
        _time("updated", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_concurrency_limits"),
    )
    op.create_table(
        "concurrency_leases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("limit_name", sa.String(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        _time("acquired_at", nullable=False),
        _time("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_concurrency_leases"),
    )
    op.create_index("ix_concurrency_leases_limit_name", "concurrency_leases", ["limit_name"])
    op.create_index("ix_concurrency_leases_expires_at", "concurrency_leases", ["expires_at"])

    _backfill_deployment_limits()


def _backfill_deployment_limits() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    deployments = sa.table(
        "deployments", sa.column("id"), sa.column("name"), sa.column("concurrency_limit")
    )
    runs = sa.table(
        "flow_runs",
        sa.column("id"),
        sa.column("deployment_id"),
        sa.column("state_type"),
        sa.column("worker_id"),
    )
    limited = bind.execute(
        sa.select(deployments).where(deployments.c.concurrency_limit.is_not(None))
    ).all()
    if not limited:
        return
    op.bulk_insert(
        sa.table(
            "concurrency_limits",
            sa.column("name"),
            sa.column("slots"),
            sa.column("burst"),
            sa.column("created", _TIME),
            sa.column("updated", _TIME),
        ),
        [
            {
                "name": f"deployment:{d.name}",
                "slots": d.concurrency_limit,
                "burst": 1,
                "created": now,
                "updated": now,
            }
            for d in limited
        ],
    )
    names = {d.id: d.name for d in limited}
    busy = bind.execute(
        sa.select(runs).where(
            runs.c.deployment_id.in_(list(names)),
            runs.c.state_type.in_(["PENDING", "RUNNING", "CANCELLING"]),
        )
    ).all()
    op.bulk_insert(
        sa.table(
            "concurrency_leases",
            sa.column("id"),
            sa.column("limit_name"),
            sa.column("slots"),
            sa.column("holder"),
            sa.column("acquired_at", _TIME),
            sa.column("expires_at", _TIME),
        ),
        [
            {
                "id": r.id,
                "limit_name": f"deployment:{names[r.deployment_id]}",
                "slots": 1,
                "holder": r.worker_id or "(before the upgrade)",
                "acquired_at": now,
                "expires_at": now + timedelta(seconds=60),
            }
            for r in busy
        ],
    )


def downgrade() -> None:
    op.drop_table("concurrency_leases")
    op.drop_table("concurrency_limits")
