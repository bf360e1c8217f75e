"""Deployments: versions with their notebook snapshots, schedules, and the columns of
flow runs that workers claim, beat and link to their output notebook.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Written out rather than imported from the current tables, like 0001. The new columns of
``flow_runs`` are nullable and the unique slot key is an index, so on SQLite the upgrade
is plain ``ALTER TABLE ADD COLUMN`` and ``CREATE INDEX``: no copy of a table that may
hold millions of runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_COLUMNS = (
    "deployment_id",
    "deployment_version",
    "schedule_id",
    "scheduled_time",
    "worker_id",
    "heartbeat_at",
    "output_notebook",
    "slot_key",
)
_RUN_INDEXES = (
    "ix_flow_runs_deployment_id",
    "ix_flow_runs_slot_key",
    "ix_flow_runs_state_type_scheduled_time",
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _time("created", nullable=False),
        _time("updated", nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("concurrency_limit", sa.Integer()),
        sa.Column("retries", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("tags", _json()),
        sa.Column("description", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.UniqueConstraint("name", name="uq_deployments_name"),
    )
    op.create_table(
        "deployment_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("deployment_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("notebook_path", sa.Text(), nullable=False),
        sa.Column("notebook_sha256", sa.String(64), nullable=False),
        sa.Column("notebook", sa.Text(), nullable=False),
        sa.Column("parameters", _json()),
        _time("created", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_versions"),
        sa.UniqueConstraint(
            "deployment_id", "version", name="uq_deployment_versions_deployment_id_version"
        ),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("deployment_id", sa.String(36), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("parameters", _json()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("catchup", sa.String(16), nullable=False, server_default="latest"),
        _time("last_slot"),
        _time("created", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
    )
    op.create_index("ix_schedules_deployment_id", "schedules", ["deployment_id"])

    op.add_column("flow_runs", sa.Column("deployment_id", sa.String(36)))
    op.add_column("flow_runs", sa.Column("deployment_version", sa.Integer()))
    op.add_column("flow_runs", sa.Column("schedule_id", sa.String(36)))
    op.add_column("flow_runs", _time("scheduled_time"))
    op.add_column("flow_runs", sa.Column("worker_id", sa.String()))
    op.add_column("flow_runs", _time("heartbeat_at"))
    op.add_column("flow_runs", sa.Column("output_notebook", sa.Text()))
    op.add_column("flow_runs", sa.Column("slot_key", sa.String()))
    op.create_index("ix_flow_runs_deployment_id", "flow_runs", ["deployment_id"])
    op.create_index("ix_flow_runs_slot_key", "flow_runs", ["slot_key"], unique=True)
    op.create_index(
        "ix_flow_runs_state_type_scheduled_time", "flow_runs", ["state_type", "scheduled_time"]
    )


def downgrade() -> None:
    for index in _RUN_INDEXES:
        op.drop_index(index, table_name="flow_runs")
    # SQLite drops columns by copying the table (batch mode); PostgreSQL alters in place.
    with op.batch_alter_table("flow_runs") as batch:
        for column in _RUN_COLUMNS:
            batch.drop_column(column)
    for table in ("schedules", "deployment_versions", "deployments"):
        op.drop_table(table)
