"""confirm: a case proposed on a ticket for the expert to confirm; labelled question-case pairs

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposed_case_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("proposal", sa.String(length=10), nullable=True))
    op.create_table(
        "decision_labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decision_labels", schema=None) as batch_op:
        batch_op.create_index("uq_decision_labels_pair", ["question_id", "case_id", "source"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("decision_labels", schema=None) as batch_op:
        batch_op.drop_index("uq_decision_labels_pair")
    op.drop_table("decision_labels")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("proposal")
        batch_op.drop_column("proposed_case_id")
