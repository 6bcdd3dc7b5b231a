"""acceptances (Cdiscount and Lengow accept-first channels)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import ordersync.shop.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=4), nullable=False),
        sa.Column("marketplace_order_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False),
        sa.Column("answered_at", ordersync.shop.schema.UtcDateTimeType(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("marketplace", "country", "marketplace_order_id", name="uq_acceptances_order"),
    )


def downgrade() -> None:
    op.drop_table("acceptances")
