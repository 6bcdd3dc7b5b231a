"""import rules and order lifecycle

Reservations for pending orders, refunds, sync state, FBA placeholder products, fake tax ids,
order grid columns in the inbox, and the views of queries/views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:24:26.688074
"""

import sqlalchemy as sa
from alembic import op

import ordersync.shop.schema
from ordersync.shop.views import drop_views, replace_views

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:  # long by nature: the tables of one revision, listed (no logic to split)
    op.create_table('sync_state',
    sa.Column('entry', sa.String(length=64), nullable=False),
    sa.Column('marketplace', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=4), nullable=False),
    sa.Column('last_lookup_at', ordersync.shop.schema.UtcDateTimeType(), nullable=True),
    sa.Column('last_window_end', ordersync.shop.schema.UtcDateTimeType(), nullable=True),
    sa.Column('last_import_at', ordersync.shop.schema.UtcDateTimeType(), nullable=True),
    sa.Column('last_fulfillment_at', ordersync.shop.schema.UtcDateTimeType(), nullable=True),
    sa.PrimaryKeyConstraint('entry')
    )
    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marketplace', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=4), nullable=False),
    sa.Column('marketplace_order_id', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('batch', sa.String(length=36), nullable=False),
    sa.Column('created_at', ordersync.shop.schema.UtcDateTimeType(), nullable=False),
    sa.Column('updated_at', ordersync.shop.schema.UtcDateTimeType(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('marketplace', 'country', 'marketplace_order_id', 'line_id', name='uq_reservations_line')
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_state', ['marketplace', 'country', 'state'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('refund_ref', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('created_at', ordersync.shop.schema.UtcDateTimeType(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'refund_ref', name='uq_refunds_order_ref')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_id', sa.String(length=32), nullable=True))

    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('buyer_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('purchase_date', ordersync.shop.schema.UtcDateTimeType(), nullable=True))
        batch_op.add_column(sa.Column('latest_ship_date', ordersync.shop.schema.UtcDateTimeType(), nullable=True))
        batch_op.add_column(sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('is_prime', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('items_shipped', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('items_unshipped', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_action', sa.String(length=255), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop_order_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('payment_status', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', ordersync.shop.schema.UtcDateTimeType(), nullable=True))
        # exact status comparison on MariaDB (its default collation ignores case)
        batch_op.alter_column('status', existing_type=sa.String(length=32), existing_nullable=False,
                              type_=ordersync.shop.schema.ShopStatus)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visible', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('supplier_reference', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_products_supplier_reference'), ['supplier_reference'], unique=False)

    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reservation_id', sa.Integer(), nullable=True))
        batch_op.alter_column('order_line_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_unique_constraint('uq_stock_moves_reservation_reason', ['reservation_id', 'reason'])
        batch_op.create_foreign_key('fk_stock_moves_reservation', 'reservations', ['reservation_id'], ['id'])

    replace_views(op.get_bind())


def downgrade() -> None:
    drop_views(op.get_bind())
    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.drop_constraint('fk_stock_moves_reservation', type_='foreignkey')
        batch_op.drop_constraint('uq_stock_moves_reservation_reason', type_='unique')
        batch_op.alter_column('order_line_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('reservation_id')

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_supplier_reference'))
        batch_op.drop_column('supplier_reference')
        batch_op.drop_column('visible')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('flags')
        batch_op.drop_column('payment_status')
        batch_op.drop_column('shop_order_number')

    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_column('last_action')
        batch_op.drop_column('items_unshipped')
        batch_op.drop_column('items_shipped')
        batch_op.drop_column('is_prime')
        batch_op.drop_column('currency')
        batch_op.drop_column('total')
        batch_op.drop_column('latest_ship_date')
        batch_op.drop_column('purchase_date')
        batch_op.drop_column('buyer_name')
        batch_op.drop_column('store_name')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('tax_id')

    op.drop_table('refunds')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_state')

    op.drop_table('reservations')
    op.drop_table('sync_state')
