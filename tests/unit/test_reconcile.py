"""Reconciliation on the three engines: a clean shop has no gaps; a lost order fails the check."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from ordersync import reconcile, steps
from ordersync.channels.amazon import AmazonChannel
from ordersync.config import Entry
from ordersync.sandbox.world import World
from ordersync.shop import schema as t

pytestmark = pytest.mark.services
CHANNEL = AmazonChannel(None, "IT")
ENTRY = Entry(marketplace="amazon", country="IT", conn_id="amazon_eu")


@pytest.fixture
def synced(store):
    """A shop after one import: 3 imported, 1 not imported (unknown product), 1 pending, 1 FBA."""
    store.add_products([{"sku": "OS-MUG-RED", "name": "Mug", "stock": 10}])
    world = World(seed=3, days=1, orders_per_day=0, countries=["IT"])
    specs = [("UNSHIPPED", "MERCHANT", "OS-MUG-RED")] * 3 + [
        ("UNSHIPPED", "MERCHANT", "NOPE"), ("PENDING", "MERCHANT", "OS-MUG-RED"), ("SHIPPED", "AMAZON", "OS-MUG-RED")
    ]
    payloads = [
        world.add_order({"country": "IT", "status": s, "fulfilledBy": by, "items": [{"sellerSku": sku, "quantity": 1}]})
        for s, by, sku in specs
    ]
    store.stage("amazon", "IT", [CHANNEL.stage(p) for p in payloads])
    steps.import_orders(CHANNEL, store, ENTRY)
    return store, payloads


def test_clean_shop_reconciles_with_reasons_and_no_gaps(synced, tmp_path):
    store, payloads = synced
    totals = reconcile.reconcile(store, [ENTRY], tmp_path)
    assert (totals["on_marketplace"], totals["expected"], totals["imported"]) == (6, 4, 3)
    assert (totals["missing"], totals["not_imported"], totals["unexplained"]) == (1, 1, 0)
    assert totals["duplicated_orders"] == totals["duplicated_moves"] == totals["confirmed_twice"] == 0
    reconcile.check(totals)  # no gap: does not raise
    html = (tmp_path / "reconciliation_latest.html").read_text()
    assert "amazon_it" in html and "<svg" in html and "no_matching_product: 1" in html
    # readable without hovering: a legend, values on the bars, every column explained, what to do
    assert "class='legend'" in html and "text-anchor='middle'>1</text>" in html
    assert "What the columns mean" in html and "shipped elsewhere" in html
    assert "not imported: 1</b>" in html and "To do:</i> fix what the reason says" in html
    assert (tmp_path / "reconciliation_latest.csv").read_text().startswith("entry,marketplace,country,day")
    assert store.count("reconciliation") == 1
    reconcile.reconcile(store, [ENTRY], tmp_path)  # a second report replaces its rows
    assert store.count("reconciliation") == 1


def test_lost_order_and_drift_are_reported_and_the_lost_one_fails_the_check(synced, tmp_path):
    store, payloads = synced
    lost, shipped, pricey = payloads[0]["orderId"], payloads[1]["orderId"], payloads[2]["orderId"]
    with store.engine.begin() as conn:  # simulate a bug that loses an order after it was staged
        pk = conn.execute(select(t.orders.c.id).where(t.orders.c.marketplace_order_id == lost)).scalar()
        conn.execute(delete(t.stock_moves).where(t.stock_moves.c.order_line_id.in_(
            select(t.order_lines.c.id).where(t.order_lines.c.order_id == pk))))
        conn.execute(delete(t.order_lines).where(t.order_lines.c.order_id == pk))
        conn.execute(delete(t.orders).where(t.orders.c.id == pk))
        conn.execute(update(t.orders).where(t.orders.c.marketplace_order_id == shipped)
                     .values(status="shipped", tracking_number="T1", carrier="brt"))
        conn.execute(update(t.orders).where(t.orders.c.marketplace_order_id == pricey).values(total=1))
    totals = reconcile.reconcile(store, [ENTRY], tmp_path)
    assert totals["unexplained"] == 1 and totals["shipped_not_confirmed"] == 1 and totals["amount_drift"] == 1
    with pytest.raises(reconcile.ReconciliationGap, match="1 unexplained"):
        reconcile.check(totals)


def test_every_channel_status_word_is_reconciled_in_the_shared_vocabulary():
    words = reconcile._normalised()
    assert words["UNSHIPPED"] == words["InPreparation"] == words["waiting_shipment"] == "UNSHIPPED"
    assert words["CANCELLED"] == words["Refused"] == words["canceled"] == "CANCELLED"
