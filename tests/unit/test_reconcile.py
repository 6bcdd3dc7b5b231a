"""Reconciliation on the three engines: a clean shop has no gaps; a lost order fails the check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


def test_daily_report_covers_the_window_and_full_history_every_day(synced, tmp_path):
    store, payloads = synced
    old = payloads[0]["orderId"]
    long_ago = datetime.now(timezone.utc) - timedelta(days=60)
    with store.engine.begin() as conn:  # one imported order bought two months ago
        conn.execute(update(t.inbox).where(t.inbox.c.marketplace_order_id == old).values(purchase_date=long_ago))
    daily = reconcile.reconcile(store, [ENTRY], tmp_path)
    assert daily["on_marketplace"] == 5 and daily["imported"] == 2  # the old order is outside the 35 days
    assert daily["since"] == (datetime.now(timezone.utc) - timedelta(days=34)).strftime("%Y-%m-%d")
    full = reconcile.reconcile(store, [ENTRY], tmp_path, full_history=True)
    assert full["on_marketplace"] == 6 and full["imported"] == 3 and full["rows"] == 2
    assert store.count("reconciliation") == 2
    reconcile.reconcile(store, [ENTRY], tmp_path)  # the daily report keeps the old day's row
    assert store.count("reconciliation") == 2
    narrow = reconcile.reconcile(store, [ENTRY.model_copy(update={"reconcile_days": 70})], tmp_path)
    assert narrow["on_marketplace"] == 6


def test_report_files_go_through_any_report_folder(synced, tmp_path):
    from airflow.sdk import ObjectStoragePath

    store, _ = synced
    folder = ObjectStoragePath((tmp_path / "out").as_uri())
    totals = reconcile.reconcile(store, [ENTRY], folder)
    assert totals["html"].startswith("file://") and (tmp_path / "out" / "reconciliation_latest.csv").exists()
