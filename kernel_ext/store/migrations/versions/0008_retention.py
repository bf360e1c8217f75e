"""Retention policies: a deployment's own, and the store-wide default.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Written out rather than imported from the current tables, like 0001. A deployment's
``retention`` (None for the deployments there are: the store-wide default applies), and a
small key/value table of store-wide settings, where the default policy lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("retention", _json()))
    op.create_table(
        "store_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", _json()),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_store_settings"),
    )
    op.create_index("ix_results_location", "results", ["location"])
    op.create_index("ix_results_expiration", "results", ["expiration"])


def downgrade() -> None:
    op.drop_index("ix_results_expiration", "results")
    op.drop_index("ix_results_location", "results")
    op.drop_table("store_settings")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("retention")
