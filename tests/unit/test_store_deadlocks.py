"""Writes that run in a transaction of their own beside concurrent imports are redone when the
database picks them as a deadlock's victim (MariaDB's gap locks did, in
tests/sandbox/test_region_listing.py), instead of failing the task."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from ordersync.config import Entry
from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore, StagedOrder

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def _deadlock_once(store: ShopStore, statement_start: str) -> list[str]:
    """The first statement starting with ``statement_start`` fails as MariaDB's deadlock victim."""
    seen: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def victim(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith(statement_start):
            seen.append(statement)
            if len(seen) == 1:
                raise OperationalError(statement, {}, Exception("(1213, 'Deadlock found when trying to get lock')"))

    return seen


def test_an_inbox_state_change_is_redone_after_a_deadlock(store):
    store.stage("amazon", "IT", [StagedOrder("405-1", "PENDING", "MERCHANT", T0, {"orderId": "405-1"})])
    seen = _deadlock_once(store, "UPDATE inbox")
    store.set_inbox_state("amazon", "IT", ["405-1"], "waiting", "pending on the marketplace")
    assert len(seen) == 2
    assert store.count("inbox", state="waiting") == 1
    seen.clear()
    assert store.reset_inbox("amazon", "IT", ["405-1"]) == 1 and len(seen) == 2
    assert store.count("inbox", state="new") == 1


def test_a_run_record_is_redone_after_a_deadlock(store):
    entry = Entry(marketplace="amazon", country="IT", conn_id="c")
    seen = _deadlock_once(store, "INSERT")
    store.record_run(entry, "import", "run-1", {"imported": 1})
    assert len(seen) > 1
    with store.engine.connect() as conn:
        assert conn.execute(t.sync_runs.select()).all() and conn.execute(t.sync_state.select()).all()


def test_a_catalogue_insert_is_redone_after_a_deadlock(store):
    seen = _deadlock_once(store, "INSERT")
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 3}])
    assert len(seen) == 2 and store.products_by_sku(["MUG"])["MUG"]["stock"] == 3
