"""the programme's other lines: needs lists with matched experts, classes with sign-ups;
who asked a question (hashed), to count distinct workers

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "needs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("enterprise", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=False),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("help_wanted", sa.JSON(), nullable=False),
        sa.Column("workers_affected", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("help_mode", sa.String(length=10), nullable=True),
        sa.Column("help_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("help_place", sa.String(length=300), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("workers_helped", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_case_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_needs_station_id", "needs", ["station_id"])
    op.create_index("ix_needs_region", "needs", ["region"])
    op.create_index("ix_needs_status_created", "needs", ["status", "created_at"])
    op.create_table(
        "need_experts",
        sa.Column("need_id", sa.String(length=32), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["expert_id"], ["experts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("need_id", "expert_id"),
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("teacher_id", sa.String(length=64), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("online_url", sa.String(length=500), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["teacher_id"], ["experts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classes_teacher_id", "classes", ["teacher_id"])
    op.create_index("ix_classes_station_id", "classes", ["station_id"])
    op.create_index("ix_classes_starts_at", "classes", ["starts_at"])
    op.create_table(
        "class_signups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("class_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enterprise", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("signed_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_class_signups_class_id", "class_signups", ["class_id"])
    op.create_index("uq_class_signups_phone", "class_signups", ["class_id", "phone"], unique=True)
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asker", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("asker")
    op.drop_index("uq_class_signups_phone", table_name="class_signups")
    op.drop_index("ix_class_signups_class_id", table_name="class_signups")
    op.drop_table("class_signups")
    op.drop_index("ix_classes_starts_at", table_name="classes")
    op.drop_index("ix_classes_station_id", table_name="classes")
    op.drop_index("ix_classes_teacher_id", table_name="classes")
    op.drop_table("classes")
    op.drop_table("need_experts")
    op.drop_index("ix_needs_status_created", table_name="needs")
    op.drop_index("ix_needs_region", table_name="needs")
    op.drop_index("ix_needs_station_id", table_name="needs")
    op.drop_table("needs")
