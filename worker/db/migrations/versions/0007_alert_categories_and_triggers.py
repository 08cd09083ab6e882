"""safety alerts carry a category, a summary and an escalation level; triggers that join an alert

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import worker.db.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("rule", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("more_texts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "alert_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("created_at", worker.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["safety_alerts.id"]),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_messages.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["questionnaire_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_id", "source", name="uq_alert_triggers_inbound_source"),
    )
    op.create_index("ix_alert_triggers_alert_id", "alert_triggers", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_triggers_alert_id", table_name="alert_triggers")
    op.drop_table("alert_triggers")
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        for column in ("escalation_level", "more_texts", "summary", "rule", "category"):
            batch_op.drop_column(column)
