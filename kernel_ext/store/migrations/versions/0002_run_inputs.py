"""Input requests of paused runs: the form, its answer, who gave it and when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Written out rather than imported from the current tables, like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "run_inputs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("flow_run_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("schema", _json(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", _json()),
        sa.Column("answered_by", sa.String()),
        _time("answered_at"),
        sa.Column("error", sa.Text()),
        _time("created", nullable=False),
        _time("timeout_at"),
        sa.PrimaryKeyConstraint("id", name="pk_run_inputs"),
        sa.UniqueConstraint("flow_run_id", "key", name="uq_run_inputs_flow_run_id_key"),
    )
    op.create_index("ix_run_inputs_status_created", "run_inputs", ["status", "created"])


def downgrade() -> None:
    op.drop_table("run_inputs")
