"""The order lifecycle on SQLite, PostgreSQL and MariaDB: pending -> reserved -> imported or
released, cancelled after import -> stock back once, record-only entries, views.

Payloads are real Amazon-shaped orders from the sandbox's world (in process, no HTTP), staged and
imported by the same steps the DAG tasks run.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from ordersync import steps
from ordersync.channels.amazon import AmazonChannel
from ordersync.config import Entry
from ordersync.sandbox.world import World
from ordersync.shop import schema as t
from ordersync.shop.store import utcnow

pytestmark = pytest.mark.services


def entry(**settings) -> Entry:
    return Entry(marketplace="amazon", country="IT", conn_id="amazon_eu", **settings)


@pytest.fixture
def shop(store):
    store.add_products([{"sku": "OS-MUG-RED", "name": "Mug", "stock": 10}, {"sku": "OS-CAP", "name": "Cap", "stock": 3}])
    return store


@pytest.fixture
def world():
    return World(seed=1, days=1, orders_per_day=0, countries=["IT"])


CHANNEL = AmazonChannel(None, "IT")


def see(store, *payloads):
    """Stage payloads as lookup would."""
    return store.stage("amazon", "IT", [CHANNEL.stage(p) for p in payloads])


def stock(store, sku):
    return store.products_by_sku([sku])[sku]["stock"]


def moves(store, reason=None):
    q = select(t.stock_moves.c.reason, t.stock_moves.c.quantity)
    if reason:
        q = q.where(t.stock_moves.c.reason == reason)
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q.order_by(t.stock_moves.c.id))]


def test_pending_order_reserves_then_its_reservation_becomes_the_sale(shop, world):
    e = entry()
    order = world.add_order({"country": "IT", "status": "PENDING", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 3}]})
    see(shop, order)
    counts = steps.import_orders(CHANNEL, shop, e)
    assert counts["waiting"] == 1 and counts["reserved"] == 1 and counts["imported"] == 0
    assert stock(shop, "OS-MUG-RED") == 7
    with shop.engine.connect() as conn:
        grid = conn.execute(text("SELECT reserved, status FROM v_order_grid")).one()
        res = conn.execute(select(t.reservations.c.quantity, t.reservations.c.available, t.reservations.c.state)).one()
    assert tuple(grid) == ("Yes", "PENDING") and tuple(res) == (3, 10, "reserved")

    # seen again unchanged, imported again: nothing more is reserved
    see(shop, order)
    assert steps.import_orders(CHANNEL, shop, e)["reserved"] == 0 and stock(shop, "OS-MUG-RED") == 7

    confirmed = world.update_order(order["orderId"], {"status": "UNSHIPPED", "lastUpdatedTime": "2100-01-01T00:00:00Z"})
    see(shop, confirmed)
    counts = steps.import_orders(CHANNEL, shop, e)
    assert counts["imported"] == 1 and counts["released"] == 1 and counts["stock_moves"] == 1
    assert stock(shop, "OS-MUG-RED") == 7  # the reserved units became the sale: moved once in all
    assert moves(shop) == [("reserve", -3), ("release", 3), ("sale", -3)]
    with shop.engine.connect() as conn:
        assert conn.execute(select(t.reservations.c.state)).scalar() == "converted"


def test_pending_order_cancelled_restores_the_quantity_once(shop, world):
    e = entry()
    order = world.add_order({"country": "IT", "status": "PENDING", "items": [{"sellerSku": "OS-CAP", "quantity": 2}]})
    see(shop, order)
    steps.import_orders(CHANNEL, shop, e)
    assert stock(shop, "OS-CAP") == 1
    cancelled = world.update_order(order["orderId"], {"status": "CANCELLED", "lastUpdatedTime": "2100-01-01T00:00:00Z"})
    for _ in range(2):  # a retried task changes nothing more
        see(shop, cancelled)
        steps.import_orders(CHANNEL, shop, e)
    assert stock(shop, "OS-CAP") == 3
    assert moves(shop) == [("reserve", -2), ("release", 2)]
    assert shop.count("orders") == 0


def test_reservation_of_an_order_pending_too_long_expires(shop, world):
    e = entry(reservation_expiry="1d")
    order = world.add_order({"country": "IT", "status": "PENDING", "items": [{"sellerSku": "OS-CAP", "quantity": 1}]})
    see(shop, order)
    steps.import_orders(CHANNEL, shop, e)
    assert stock(shop, "OS-CAP") == 2
    with shop.engine.begin() as conn:  # two days pass
        conn.execute(update(t.reservations).values(created_at=utcnow() - timedelta(days=2)))
    assert steps.import_orders(CHANNEL, shop, e)["released"] == 1
    assert stock(shop, "OS-CAP") == 3


def test_cancelled_after_import_cancels_refunds_and_restores_stock_once(shop, world, shop_url):
    e = entry()
    order = world.add_order({"country": "IT", "status": "UNSHIPPED", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 2}, {"sellerSku": "OS-CAP", "quantity": 1}]})
    see(shop, order)
    assert steps.import_orders(CHANNEL, shop, e)["imported"] == 1
    assert (stock(shop, "OS-MUG-RED"), stock(shop, "OS-CAP")) == (8, 2)

    cancelled = world.update_order(order["orderId"], {"status": "CANCELLED", "lastUpdatedTime": "2100-01-01T00:00:00Z"})
    see(shop, cancelled)
    # two runs at once (a retry racing a scheduled run) cancel the order once
    from ordersync.shop.store import ShopStore

    results, errors = [], []

    def run():
        other = ShopStore.from_url(shop_url)
        try:
            results.append(steps.import_orders(CHANNEL, other, e))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            other.engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sum(r["cancelled"] for r in results) == 1
    see(shop, cancelled)
    steps.import_orders(CHANNEL, shop, e)
    assert (stock(shop, "OS-MUG-RED"), stock(shop, "OS-CAP")) == (10, 3)
    assert sorted(moves(shop, "cancel")) == [("cancel", 1), ("cancel", 2)]
    with shop.engine.connect() as conn:
        status, cancelled_at = conn.execute(select(t.orders.c.status, t.orders.c.cancelled_at)).one()
        refunds = conn.execute(select(t.refunds.c.amount, t.refunds.c.reason)).all()
        last_action = conn.execute(select(t.inbox.c.last_action)).scalar()
    assert status == "cancelled" and cancelled_at is not None
    assert len(refunds) == 1 and str(refunds[0].amount) == order["proceeds"]["grandTotal"]["amount"]
    assert "cancelled on the marketplace" in last_action


def test_status_change_after_import_updates_the_shop_order(shop, world):
    e = entry()
    order = world.add_order({"country": "IT", "status": "UNSHIPPED", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 1}]})
    see(shop, order)
    steps.import_orders(CHANNEL, shop, e)
    shipped = world.update_order(order["orderId"], {"status": "SHIPPED", "lastUpdatedTime": "2100-01-01T00:00:00Z"})
    see(shop, shipped)
    counts = steps.import_orders(CHANNEL, shop, e)
    assert counts["updated"] == 1 and counts["imported"] == 0 and shop.count("orders") == 1
    with shop.engine.connect() as conn:
        assert conn.execute(select(t.orders.c.marketplace_status)).scalar() == "SHIPPED"
        assert conn.execute(select(t.inbox.c.state)).scalar() == "imported"


def test_record_only_entry_keeps_orders_for_review(shop, world):
    order = world.add_order({"country": "IT", "status": "UNSHIPPED", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 1}]})
    see(shop, order)
    counts = steps.import_orders(CHANNEL, shop, entry(create_orders=False))
    assert counts["recorded"] == 1 and shop.count("orders") == 0 and stock(shop, "OS-MUG-RED") == 10
    with shop.engine.connect() as conn:
        row = conn.execute(text("SELECT marketplace_order_number, sync_state, buyer_name, store_name FROM v_order_grid")).one()
    assert row.marketplace_order_number == order["orderId"] and row.sync_state == "recorded"
    assert row.buyer_name and row.store_name == "Amazon.it"


def test_fba_order_with_unknown_product_imported_on_the_hidden_placeholder(shop, world):
    e = entry(import_fba=True, fba_placeholder=True)
    order = world.add_order({"country": "IT", "status": "SHIPPED", "fulfilledBy": "AMAZON", "items": [{"sellerSku": "FBA-ONLY", "quantity": 2}]})
    see(shop, order)
    counts = steps.import_orders(CHANNEL, shop, e)
    assert counts["imported"] == 1 and counts["stock_moves"] == 0
    placeholder = shop.products_by_sku(["ORDERSYNC-FBA"])["ORDERSYNC-FBA"]
    assert placeholder["visible"] is False or placeholder["visible"] == 0
    with shop.engine.connect() as conn:
        line = conn.execute(select(t.order_lines.c.name, t.order_lines.c.product_id)).one()
        status = conn.execute(select(t.orders.c.status)).scalar()
    assert line.name.startswith("{FBA} ") and line.product_id == placeholder["id"]
    assert status == "shipped_by_marketplace"
    assert moves(shop) == []


def test_sync_summary_view_after_runs(shop, world):
    e = entry()
    ok = world.add_order({"country": "IT", "status": "UNSHIPPED", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 1}]})
    bad = world.add_order({"country": "IT", "status": "UNSHIPPED", "items": [{"sellerSku": "NOPE", "quantity": 1}]})
    see(shop, ok, bad)
    counts = steps.import_orders(CHANNEL, shop, e)
    shop.record_run(e, "import", "run-1", counts)
    with shop.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM v_sync_summary")).mappings().one()
    assert row["entry"] == "amazon_it" and row["last_import_at"] is not None
    assert (row["orders_imported"], row["orders_not_imported"], row["orders_not_yet_shipped"]) == (1, 1, 1)
    assert row["last_fulfillment_at"] is None and row["packages_shipped"] == 0
