"""wechat: a worker's consent to one subscribe message (一次性订阅), when the account sends those

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wechat_workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wechat_workers", schema=None) as batch_op:
        batch_op.drop_column("subscribed_at")
