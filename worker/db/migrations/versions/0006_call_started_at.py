"""messages record when the provider call started

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import worker.db.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A row in `sending` whose worker died is ambiguous only if the call had started;
    # otherwise it can safely be queued again.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_started_at", worker.db.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("call_started_at")
