"""inbound texts keep their intent and the rule that read it, and a needs-attention state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import worker.db.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `attention` is why a person must read the text (a reschedule request, a question, an
    # unclear reply, a wrong number); it stays on the list until `resolved_at` is set.
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("intent_rule", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attention", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("attention_detail", worker.db.models.EncryptedText(), nullable=True))
        batch_op.add_column(
            sa.Column("resolved_at", worker.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", worker.db.models.EncryptedText(), nullable=True))
        batch_op.create_index("ix_inbound_attention", ["attention", "resolved_at"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_attention")
        for column in (
            "resolution_note", "resolved_by", "resolved_at", "attention_detail", "attention", "intent_rule",
            "intent",
        ):  # fmt: skip
            batch_op.drop_column(column)
