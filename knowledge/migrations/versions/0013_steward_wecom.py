"""wecom: stewards' WeCom user id, for escalations in their scope

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stewards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wecom_userid", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_stewards_wecom_userid"), ["wecom_userid"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("stewards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stewards_wecom_userid"))
        batch_op.drop_column("wecom_userid")
