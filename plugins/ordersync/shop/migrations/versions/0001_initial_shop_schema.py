"""initial shop schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 19:36:32.008326
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import ordersync.shop.schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:  # long by nature: the tables of one revision, listed (no logic to split)

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_key", sa.String(length=96), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_key"),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=4), nullable=False),
        sa.Column("marketplace_order_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_status", sa.String(length=32), nullable=False),
        sa.Column("fulfillment", sa.String(length=16), nullable=False),
        sa.Column(
            "marketplace_updated_at",
            ordersync.shop.schema.UtcDateTimeType(),
            nullable=False,
        ),
        sa.Column(
            "payload",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("batch", sa.String(length=36), nullable=False),
        sa.Column(
            "first_seen_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column("seen_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "marketplace",
            "country",
            "marketplace_order_id",
            name="uq_inbox_marketplace_order",
        ),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_state", ["marketplace", "country", "state"], unique=False
        )

    op.create_table(
        "not_imported",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=4), nullable=False),
        sa.Column("marketplace_order_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "first_failed_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column(
            "last_failed_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column(
            "resolved_at", ordersync.shop.schema.UtcDateTimeType(), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "marketplace",
            "country",
            "marketplace_order_id",
            name="uq_not_imported_order",
        ),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("asin", sa.String(length=16), nullable=True),
        sa.Column("ean", sa.String(length=14), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku"),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_asin"), ["asin"], unique=False)
        batch_op.create_index(batch_op.f("ix_products_ean"), ["ean"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=4), nullable=False),
        sa.Column("entry", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column(
            "window_start", ordersync.shop.schema.UtcDateTimeType(), nullable=True
        ),
        sa.Column("window_end", ordersync.shop.schema.UtcDateTimeType(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column(
            "finished_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry", "step", "run_id", name="uq_sync_runs_step"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=4), nullable=False),
        sa.Column("marketplace_order_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("marketplace_status", sa.String(length=32), nullable=False),
        sa.Column("fulfillment", sa.String(length=16), nullable=False),
        sa.Column(
            "purchase_date", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column(
            "marketplace_updated_at",
            ordersync.shop.schema.UtcDateTimeType(),
            nullable=False,
        ),
        sa.Column(
            "latest_ship_date", ordersync.shop.schema.UtcDateTimeType(), nullable=True
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("is_prime", sa.Boolean(), nullable=False),
        sa.Column("service_level", sa.String(length=32), nullable=True),
        sa.Column("ship_name", sa.String(length=255), nullable=True),
        sa.Column("ship_line1", sa.String(length=255), nullable=True),
        sa.Column("ship_line2", sa.String(length=255), nullable=True),
        sa.Column("ship_city", sa.String(length=128), nullable=True),
        sa.Column("ship_postal_code", sa.String(length=32), nullable=True),
        sa.Column("ship_region", sa.String(length=128), nullable=True),
        sa.Column("ship_country", sa.String(length=2), nullable=True),
        sa.Column("ship_phone", sa.String(length=64), nullable=True),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("shipped_at", ordersync.shop.schema.UtcDateTimeType(), nullable=True),
        sa.Column("import_batch", sa.String(length=36), nullable=False),
        sa.Column(
            "imported_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column(
            "updated_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "marketplace",
            "country",
            "marketplace_order_id",
            name="uq_orders_marketplace_order",
        ),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_batch", ["import_batch"], unique=False)
        batch_op.create_index(
            "ix_orders_status", ["marketplace", "country", "status"], unique=False
        )

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("asin", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "line_id", name="uq_order_lines_line"),
    )
    op.create_table(
        "shipment_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("package_ref", sa.String(length=32), nullable=False),
        sa.Column("carrier_code", sa.String(length=64), nullable=False),
        sa.Column("carrier_name", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "claimed_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.Column(
            "confirmed_at", ordersync.shop.schema.UtcDateTimeType(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "package_ref", name="uq_confirmations_package"),
    )
    op.create_table(
        "stock_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at", ordersync.shop.schema.UtcDateTimeType(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "order_line_id", "reason", name="uq_stock_moves_line_reason"
        ),
    )
    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.create_index("ix_stock_moves_batch", ["batch"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_moves_batch")

    op.drop_table("stock_moves")
    op.drop_table("shipment_confirmations")
    op.drop_table("order_lines")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_batch")

    op.drop_table("orders")
    op.drop_table("sync_runs")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_ean"))
        batch_op.drop_index(batch_op.f("ix_products_asin"))

    op.drop_table("products")
    op.drop_table("not_imported")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_state")

    op.drop_table("inbox")
    op.drop_table("customers")
