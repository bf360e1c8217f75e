"""Events and automations: custom and deployment events, automations, their evaluator.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Written out rather than imported from the current tables, like 0001. State changes need
no table of their own: they are read as events from ``state_history``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _auto_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # History ids must never be given twice (SQLite reuses a deleted newest rowid
        # unless the table is AUTOINCREMENT): the event readers' cursors count on it.
        with op.batch_alter_table(
            "state_history", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_table(
        "events",
        sa.Column("seq", _auto_id(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        _time("occurred"),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("resource", _json(), nullable=False),
        sa.Column("related", _json()),
        sa.Column("payload", _json()),
        sa.Column("follows", sa.String(36)),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("id", name="uq_events_id"),
        sqlite_autoincrement=True,
    )
    for column in ("event", "occurred", "resource_id"):
        op.create_index(f"ix_events_{column}", "events", [column])
    op.create_table(
        "automations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("trigger", _json(), nullable=False),
        sa.Column("actions", _json(), nullable=False),
        sa.Column("actions_on_trigger", _json()),
        sa.Column("actions_on_resolve", _json()),
        sa.Column("state_from", _auto_id(), server_default=sa.text("0"), nullable=False),
        sa.Column("event_from", _auto_id(), server_default=sa.text("0"), nullable=False),
        _time("created"),
        _time("updated"),
        sa.PrimaryKeyConstraint("id", name="pk_automations"),
        sa.UniqueConstraint("name", name="uq_automations_name"),
    )
    op.create_table(
        "automation_evaluator",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String()),
        _time("lease_until", nullable=True),
        sa.Column("state_cursor", _auto_id(), server_default=sa.text("0"), nullable=False),
        sa.Column("event_cursor", _auto_id(), server_default=sa.text("0"), nullable=False),
        sa.Column("pending", _json()),
        _time("updated", nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_automation_evaluator"),
    )
    op.create_table(
        "automation_buckets",
        sa.Column("automation_id", sa.String(36), nullable=False),
        sa.Column("trigger_id", sa.String(36), nullable=False),
        sa.Column("bucket_key", sa.String(), nullable=False),
        _time("opened"),
        _time("closes"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_event", _json()),
        sa.Column("state", _json()),
        sa.PrimaryKeyConstraint(
            "automation_id", "trigger_id", "bucket_key", name="pk_automation_buckets"
        ),
    )
    op.create_table(
        "automation_firings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("automation_id", sa.String(36), nullable=False),
        sa.Column("firing_key", sa.String(), nullable=False),
        _time("fired"),
        sa.Column("triggering_event", _json()),
        sa.Column("firing", _json()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_by", sa.String()),
        _time("claimed_until", nullable=True),
        sa.Column("error", sa.Text()),
        sa.Column("results", _json()),
        _time("finished", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_automation_firings"),
        sa.UniqueConstraint(
            "automation_id",
            "firing_key",
            name="uq_automation_firings_automation_id_firing_key",
        ),
    )
    for column in ("automation_id", "fired", "state"):
        op.create_index(f"ix_automation_firings_{column}", "automation_firings", [column])


def downgrade() -> None:
    op.drop_table("automation_firings")
    op.drop_table("automation_buckets")
    op.drop_table("automation_evaluator")
    op.drop_table("automations")
    op.drop_table("events")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "state_history", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
