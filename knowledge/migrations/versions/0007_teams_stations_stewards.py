"""the union's structure: teams (1+11+5+N) with their experts, service stations grouping sites,
steward accounts scoped to stations or regions

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("industries", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_teams_level", "teams", ["level"])
    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_ids", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_sites_station", ["station"])
        batch_op.create_foreign_key("fk_sites_station", "stations", ["station"], ["id"], ondelete="SET NULL")
    op.create_table(
        "stewards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("station_ids", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "steward_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("steward_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["steward_id"], ["stewards.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_steward_tokens_steward_id", "steward_tokens", ["steward_id"])
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("team_id")
    op.drop_index("ix_steward_tokens_steward_id", table_name="steward_tokens")
    op.drop_table("steward_tokens")
    op.drop_table("stewards")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sites_station", type_="foreignkey")
        batch_op.drop_index("ix_sites_station")
        batch_op.drop_column("station")
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.drop_column("team_ids")
    op.drop_table("stations")
    op.drop_index("ix_teams_level", table_name="teams")
    op.drop_table("teams")
