"""reliability: one ticket per question, versioned tickets, re-issued worker tokens, expiring
expert tokens, outbox back-off and dead letters

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EXISTING_EXPERT_TOKENS_VALID = timedelta(days=180)
OLD_GIVE_UP = 20  # the attempts after which the dispatcher before 0004 stopped trying


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index("uq_tickets_question", ["question_id"], unique=True)

    op.create_table(
        "ticket_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("ticket_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_tokens_ticket_id"), ["ticket_id"], unique=False)

    # tokens issued before expiry existed stay valid for a while, then need re-issuing
    valid_until = datetime.now(UTC) + EXISTING_EXPERT_TOKENS_VALID
    with op.batch_alter_table("expert_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.table("expert_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
        .update()
        .values(expires_at=valid_until)
    )
    with op.batch_alter_table("expert_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_dead_at"), ["dead_at"], unique=False)
    # rows the old dispatcher gave up on (20 tries) become dead letters admins see and can
    # retry, instead of being sent days late or staying invisible
    outbox = sa.table(
        "outbox",
        sa.column("attempts", sa.Integer()),
        sa.column("delivered_at", sa.DateTime(timezone=True)),
        sa.column("dead_at", sa.DateTime(timezone=True)),
        sa.column("last_error", sa.String(500)),
    )
    op.execute(
        outbox.update()
        .where(outbox.c.delivered_at.is_(None), outbox.c.attempts >= OLD_GIVE_UP)
        .values(
            dead_at=datetime.now(UTC), last_error="given up before dead letters existed (20 failed tries)"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_dead_at"))
        batch_op.drop_column("dead_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("expert_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("ticket_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_tokens_ticket_id"))
    op.drop_table("ticket_tokens")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("uq_tickets_question")
        batch_op.drop_column("version")
