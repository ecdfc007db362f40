"""several instances, no shared disk: the search index's versions in the database; when a
lease's holder took it

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_versions",
        sa.Column("version", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_index_versions_created_at", "index_versions", ["created_at"])
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("taken_at")
    op.drop_index("ix_index_versions_created_at", table_name="index_versions")
    op.drop_table("index_versions")
