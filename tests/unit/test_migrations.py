"""Alembic migrations build exactly the schema of ordersync.shop.schema, on every engine."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ordersync.shop import migrate
from ordersync.shop.schema import metadata
from ordersync.shop.store import ShopStore

pytestmark = pytest.mark.services


def test_migrations_match_the_tables_and_are_idempotent(shop_url):
    store = ShopStore.from_url(shop_url)
    try:
        store.migrate()
        store.migrate()  # at head: nothing to do
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE})
            diff = compare_metadata(context, metadata)
        assert diff == []
    finally:
        store.engine.dispose()


def test_tasks_starting_together_on_an_empty_database_all_succeed(shop_url):
    stores = [ShopStore.from_url(shop_url) for _ in range(3)]
    errors = []

    def run(s):
        try:
            s.migrate()
        except Exception as exc:  # pragma: no cover - reported by the assert
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert migrate.current_revision(stores[0].engine) == migrate.head_revision()
    for s in stores:
        s.engine.dispose()
