"""Indexes for the console: the runs that ended lately in a state (its notifications),
and a task run's results (deleting a run with many task runs).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Two new indexes; nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_state_type_end_time", "flow_runs", ["state_type", "end_time"])
    op.create_index("ix_results_task_run_id", "results", ["task_run_id"])


def downgrade() -> None:
    op.drop_index("ix_results_task_run_id", "results")
    op.drop_index("ix_flow_runs_state_type_end_time", "flow_runs")
