"""Secrets (encrypted values), variables (JSON values) and artifacts of runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Written out rather than imported from the current tables, like 0001. Three new tables,
and a deployment's ``profile`` (None for the deployments there are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("profile", sa.String(64)))
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        _time("created"),
        _time("updated"),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
    )
    op.create_table(
        "variables",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", _json()),
        sa.Column("tags", _json()),
        _time("created"),
        _time("updated"),
        sa.PrimaryKeyConstraint("name", name="pk_variables"),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255)),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", _json()),
        sa.Column("description", sa.Text()),
        sa.Column("flow_run_id", sa.String(36)),
        sa.Column("task_run_id", sa.String(36)),
        _time("created"),
        _time("updated"),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
    )
    op.create_index("ix_artifacts_flow_run_id", "artifacts", ["flow_run_id"])
    op.create_index("ix_artifacts_task_run_id", "artifacts", ["task_run_id"])
    op.create_index("ix_artifacts_key_created", "artifacts", ["key", "created"])


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_table("variables")
    op.drop_table("secrets")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("profile")
