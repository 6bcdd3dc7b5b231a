"""reconciliation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:40:23.026449
"""

import sqlalchemy as sa
from alembic import op

import ordersync.shop.schema

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reconciliation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry', sa.String(length=64), nullable=False),
    sa.Column('marketplace', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=4), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('on_marketplace', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.Column('not_imported', sa.Integer(), nullable=False),
    sa.Column('unexplained', sa.Integer(), nullable=False),
    sa.Column('duplicated_orders', sa.Integer(), nullable=False),
    sa.Column('duplicated_moves', sa.Integer(), nullable=False),
    sa.Column('confirmed_twice', sa.Integer(), nullable=False),
    sa.Column('shipped_not_confirmed', sa.Integer(), nullable=False),
    sa.Column('cancel_not_applied', sa.Integer(), nullable=False),
    sa.Column('shipped_elsewhere', sa.Integer(), nullable=False),
    sa.Column('amount_drift', sa.Integer(), nullable=False),
    sa.Column('generated_at', ordersync.shop.schema.UtcDateTimeType(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry', 'day', name='uq_reconciliation_entry_day')
    )


def downgrade() -> None:
    op.drop_table('reconciliation')
