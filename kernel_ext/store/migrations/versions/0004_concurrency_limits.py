"""Concurrency and rate limits, and the leases of the slots taken from them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written out rather than imported from the current tables, like 0001. Two new tables;
nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    op.create_index(
        "ix_concurrency_leases_limit_name", "concurrency_leases", ["limit_name"]
    )
    op.create_index(
        "ix_concurrency_leases_expires_at", "concurrency_leases", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("concurrency_leases")
    op.drop_table("concurrency_limits")
