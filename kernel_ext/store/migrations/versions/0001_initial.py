"""Runs, state history, logs and the results index.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Written out rather than imported from the current tables, so that later changes to
those cannot rewrite the history of what 0001 created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _auto_id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True)


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _run_state_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("tags", _json()),
        sa.Column("state_type", sa.String(16)),
        sa.Column("state_name", sa.String()),
        sa.Column("state_message", sa.Text()),
        _time("start_time"),
        _time("end_time"),
        sa.Column("run_count", sa.Integer(), nullable=False),
        _time("created", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("flow_name", sa.String(), nullable=False),
        sa.Column("parameters", _json()),
        sa.Column("parent_task_run_id", sa.String(36)),
        *_run_state_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_flow_runs"),
    )
    op.create_index("ix_flow_runs_flow_name", "flow_runs", ["flow_name"])
    op.create_index("ix_flow_runs_parent_task_run_id", "flow_runs", ["parent_task_run_id"])
    op.create_index("ix_flow_runs_created", "flow_runs", ["created"])

    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("task_key", sa.String(), nullable=False),
        sa.Column("flow_run_id", sa.String(36)),
        sa.Column("upstream", _json()),
        sa.Column("cache_key", sa.String()),
        *_run_state_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_task_runs"),
    )
    op.create_index("ix_task_runs_flow_run_id", "task_runs", ["flow_run_id"])
    op.create_index("ix_task_runs_cache_key", "task_runs", ["cache_key"])
    op.create_index("ix_task_runs_created", "task_runs", ["created"])

    op.create_table(
        "state_history",
        _auto_id(),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("run_kind", sa.String(4), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _time("timestamp", nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("details", _json()),
        sa.PrimaryKeyConstraint("id", name="pk_state_history"),
    )
    op.create_index("ix_state_history_run_id", "state_history", ["run_id"])

    op.create_table(
        "logs",
        _auto_id(),
        sa.Column("flow_run_id", sa.String(36)),
        sa.Column("task_run_id", sa.String(36)),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _time("timestamp", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
    )
    op.create_index("ix_logs_flow_run_id", "logs", ["flow_run_id"])
    op.create_index("ix_logs_task_run_id", "logs", ["task_run_id"])

    op.create_table(
        "results",
        _auto_id(),
        sa.Column("task_run_id", sa.String(36), nullable=False),
        sa.Column("cache_key", sa.String()),
        sa.Column("location", sa.Text(), nullable=False),
        _time("created", nullable=False),
        _time("expiration"),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
    )
    op.create_index("ix_results_cache_key", "results", ["cache_key"])


def downgrade() -> None:
    for table in ("results", "logs", "state_history", "task_runs", "flow_runs"):
        op.drop_table(table)
