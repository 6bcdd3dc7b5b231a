"""region_watermarks (one Amazon listing per seller account x region)

Revision ID: 0007_region
Revises: 0006_history
"""

import sqlalchemy as sa
from alembic import op

import ordersync.shop.schema

revision = "0007_region"
down_revision = "0006_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_watermarks",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("covered_until", ordersync.shop.schema.UtcDateTimeType(), nullable=True),
        sa.Column("locked_by", sa.String(length=36), nullable=True),
        sa.Column("locked_until", ordersync.shop.schema.UtcDateTimeType(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("region_watermarks")
