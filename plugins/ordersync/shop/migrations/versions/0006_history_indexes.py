"""history: reconciliation window index, fulfillment bookmarks (pending packages by index), reservations by batch

Revision ID: 0006_history
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_history"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbox_purchase", "inbox", ["marketplace", "country", "purchase_date"])
    op.create_index("ix_confirmations_state", "shipment_confirmations", ["state", "claimed_at"])
    op.create_index("ix_reservations_batch", "reservations", ["batch"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("confirm_state", sa.String(length=16), nullable=True))
    with op.batch_alter_table("shop_packages") as batch:
        batch.add_column(sa.Column("confirm_state", sa.String(length=16), nullable=True))
    # bookmark what fulfillment already handled, so its first run after the upgrade reads only what is pending
    op.execute(
        "UPDATE orders SET confirm_state = 'claimed' WHERE EXISTS (SELECT 1 FROM shipment_confirmations c"
        " WHERE c.order_id = orders.id AND c.package_ref = '1')"
    )
    op.execute(
        "UPDATE orders SET confirm_state = 'packages' WHERE confirm_state IS NULL"
        " AND EXISTS (SELECT 1 FROM shop_packages p WHERE p.order_id = orders.id)"
    )
    op.execute("UPDATE orders SET confirm_state = 'marketplace' WHERE confirm_state IS NULL AND fulfillment <> 'MERCHANT'")
    op.execute(
        "UPDATE shop_packages SET confirm_state = 'claimed' WHERE EXISTS (SELECT 1 FROM shipment_confirmations c"
        " WHERE c.order_id = shop_packages.order_id AND c.package_ref = shop_packages.package_ref)"
    )
    op.create_index("ix_orders_to_confirm", "orders", ["marketplace", "country", "status", "confirm_state"])
    op.drop_index("ix_orders_status", table_name="orders")  # the new index starts with the same columns
    op.create_index("ix_shop_packages_to_confirm", "shop_packages", ["confirm_state", "order_id"])


def downgrade() -> None:
    op.drop_index("ix_shop_packages_to_confirm", table_name="shop_packages")
    op.create_index("ix_orders_status", "orders", ["marketplace", "country", "status"])
    op.drop_index("ix_orders_to_confirm", table_name="orders")
    with op.batch_alter_table("shop_packages") as batch:
        batch.drop_column("confirm_state")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("confirm_state")
    op.drop_index("ix_reservations_batch", table_name="reservations")
    op.drop_index("ix_confirmations_state", table_name="shipment_confirmations")
    op.drop_index("ix_inbox_purchase", table_name="inbox")
