"""The writer's committed batches, so a batch retried after a lost COMMIT acknowledgement
is not written twice.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

One new table; nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "writer_batches",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_writer_batches"),
    )
    op.create_index("ix_writer_batches_created", "writer_batches", ["created"])


def downgrade() -> None:
    op.drop_table("writer_batches")
