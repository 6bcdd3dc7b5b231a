"""Alembic environment for the shop database: run on a connection handed in by ordersync.shop.migrate."""

from alembic import context

from ordersync.shop.migrate import VERSION_TABLE
from ordersync.shop.schema import metadata

connection = context.config.attributes["connection"]
# our own version table, so a shop database shared with other apps is left alone
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
