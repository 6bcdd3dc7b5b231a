"""shop packages (several per order) and shared rate-limit buckets

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import ordersync.shop.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("package_ref", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("shipping_method", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("shipped_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "package_ref", name="uq_shop_packages_package"),
    )
    op.create_table(
        "shop_package_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["shop_packages.id"]),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("package_id", "order_line_id", name="uq_shop_package_items_line"),
    )
    op.create_table(
        "rate_limit_buckets",
        sa.Column("bucket", sa.String(length=128), nullable=False),
        sa.Column("tokens", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("refilled_at_us", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
    op.drop_table("shop_package_items")
    op.drop_table("shop_packages")
