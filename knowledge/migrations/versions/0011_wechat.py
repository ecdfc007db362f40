"""wechat: experts' openid and WeCom user id, tickets' worker openid, workers known by openid,
binding codes, console link codes, deliveries per channel

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wechat_openid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("wecom_userid", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_experts_wechat_openid"), ["wechat_openid"], unique=True)
        batch_op.create_index(batch_op.f("ix_experts_wecom_userid"), ["wecom_userid"], unique=True)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_openid", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_worker_openid"), ["worker_openid"], unique=False)

    op.create_table(
        "wechat_workers",
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("openid"),
    )
    op.create_table(
        "wechat_bind_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["expert_id"], ["experts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_wechat_bind_codes_expert_id", "wechat_bind_codes", ["expert_id"])
    op.create_table(
        "expert_link_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["expert_id"], ["experts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_expert_link_codes_expert_id", "expert_link_codes", ["expert_id"])
    op.create_table(
        "channel_deliveries",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_deliveries")
    op.drop_index("ix_expert_link_codes_expert_id", table_name="expert_link_codes")
    op.drop_table("expert_link_codes")
    op.drop_index("ix_wechat_bind_codes_expert_id", table_name="wechat_bind_codes")
    op.drop_table("wechat_bind_codes")
    op.drop_table("wechat_workers")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_worker_openid"))
        batch_op.drop_column("worker_openid")
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experts_wecom_userid"))
        batch_op.drop_index(batch_op.f("ix_experts_wechat_openid"))
        batch_op.drop_column("wecom_userid")
        batch_op.drop_column("wechat_openid")
