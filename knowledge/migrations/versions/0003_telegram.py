"""telegram: expert binding codes, worker chats, message records, delivered events

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_bind_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["expert_id"], ["experts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    with op.batch_alter_table("telegram_bind_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_telegram_bind_codes_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "telegram_chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_code"], ["sites.code"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("chat_id"),
    )
    op.create_table(
        "telegram_messages",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("question_id", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chat_id", "message_id"),
    )
    op.create_table(
        "telegram_deliveries",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("telegram_deliveries")
    op.drop_table("telegram_messages")
    op.drop_table("telegram_chats")
    with op.batch_alter_table("telegram_bind_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_bind_codes_expert_id"))
    op.drop_table("telegram_bind_codes")
