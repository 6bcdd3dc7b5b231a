"""The shop store on SQLite, PostgreSQL and MariaDB: the same behaviour on every engine."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync import rules
from ordersync.config import Entry
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus, Rejection
from ordersync.shop.store import ShopStore, StagedOrder

pytestmark = pytest.mark.services

ENTRY = Entry(marketplace="amazon", country="IT", conn_id="amazon_eu")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def make_order(order_id: str, *lines: tuple[str, str, int], status=OrderStatus.UNSHIPPED, email="b1@example.test"):
    return MarketplaceOrder(
        marketplace="amazon",
        country="IT",
        order_id=order_id,
        status=status,
        fulfillment=Fulfillment.MERCHANT,
        purchase_date=T0,
        last_updated=T0 + timedelta(minutes=5),
        currency="EUR",
        total=Decimal("10.00") * sum(q for _, _, q in lines),
        lines=tuple(OrderLine(lid, sku, None, f"product {sku}", q, Decimal("10.00")) for lid, sku, q in lines),
        buyer_name="Giulia Rossi",
        buyer_email=email,
        ship_to=Address("Giulia Rossi", "Via Roma 1", "Milano", "20121", "IT", phone="+39 02 0000"),
    )


def plans_for(store: ShopStore, orders):
    skus = {line.sku for o in orders for line in o.lines}
    decisions = rules.decide(orders, store.products_by_sku(skus), ENTRY)
    return decisions


@pytest.fixture
def stocked(store):
    store.add_products(
        [
            {"sku": "MUG", "name": "Mug", "stock": 10},
            {"sku": "CAP", "name": "Cap", "stock": 5},
        ]
    )
    return store


def stock_of(store, sku):
    return store.products_by_sku([sku])[sku]["stock"]


def test_import_is_idempotent_and_moves_stock_once(stocked):
    orders = [make_order("405-1", ("1", "MUG", 2), ("2", "CAP", 1)), make_order("405-2", ("3", "MUG", 1))]
    first = stocked.write_orders("amazon", "IT", plans_for(stocked, orders).plans)
    assert first.imported == ["405-1", "405-2"] and first.already == []
    assert first.stock_moves == 3
    second = stocked.write_orders("amazon", "IT", plans_for(stocked, orders).plans)
    assert second.imported == [] and second.already == ["405-1", "405-2"] and second.stock_moves == 0
    assert stocked.count("orders") == 2
    assert stocked.count("order_lines") == 3
    assert stocked.count("stock_moves") == 3
    assert stocked.count("customers") == 1  # same buyer, one customer
    assert stock_of(stocked, "MUG") == 10 - 3
    assert stock_of(stocked, "CAP") == 5 - 1


def test_concurrent_imports_of_the_same_orders_create_one_of_each(stocked, shop_url):
    orders = [make_order(f"405-{i}", (f"{i}", "MUG", 1)) for i in range(8)]
    plans = plans_for(stocked, orders).plans
    stores = [ShopStore.from_url(shop_url) for _ in range(2)]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker(s):
        try:
            barrier.wait()
            results.append(s.write_orders("amazon", "IT", plans))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s in stores:
        s.engine.dispose()
    assert errors == []
    assert sorted(len(r.imported) for r in results) in ([0, 8], [8, 0]) or sum(len(r.imported) for r in results) == 8
    assert stocked.count("orders") == 8
    assert stocked.count("stock_moves") == 8
    assert stock_of(stocked, "MUG") == 10 - 8


def test_unknown_sku_goes_to_not_imported_and_the_rest_is_imported(stocked):
    good = make_order("405-good", ("1", "MUG", 1))
    bad = make_order("405-bad", ("2", "NOPE", 1))
    decisions = plans_for(stocked, [good, bad])
    assert [p.order.order_id for p in decisions.plans] == ["405-good"]
    assert [(r.order_id, r.reason) for r in decisions.rejected] == [("405-bad", "no_matching_product")]
    assert "NOPE" in decisions.rejected[0].message
    stocked.write_orders("amazon", "IT", decisions.plans)
    stocked.record_rejections("amazon", "IT", decisions.rejected)
    stocked.record_rejections("amazon", "IT", decisions.rejected)  # retried by a later run
    assert stocked.count("orders") == 1
    assert stocked.count("not_imported") == 1
    with stocked.engine.connect() as conn:
        from sqlalchemy import select

        from ordersync.shop.schema import not_imported

        row = conn.execute(select(not_imported)).mappings().one()
    assert row["attempts"] == 2 and row["resolved_at"] is None

    # the product is added: the next import resolves the not-imported entry
    stocked.add_products([{"sku": "NOPE", "name": "Now sold", "stock": 3}])
    stocked.write_orders("amazon", "IT", plans_for(stocked, [bad]).plans)
    assert stocked.count("orders") == 2
    with stocked.engine.connect() as conn:
        row = conn.execute(select(not_imported)).mappings().one()
    assert row["resolved_at"] is not None


def test_stage_counts_and_never_moves_backwards(store):
    raw = {"orderId": "405-1"}
    older = StagedOrder("405-1", "PENDING", "MERCHANT", T0, raw)
    newer = StagedOrder("405-1", "UNSHIPPED", "MERCHANT", T0 + timedelta(hours=1), raw)
    assert store.stage("amazon", "IT", [older]).new == 1
    again = store.stage("amazon", "IT", [older])
    assert (again.new, again.changed, again.unchanged) == (0, 0, 1)
    assert store.stage("amazon", "IT", [newer]).changed == 1
    # an overlapping window returns the older copy: it must not overwrite the newer one
    store.stage("amazon", "IT", [older])
    batches = list(store.inbox_to_import("amazon", "IT", 10))
    assert [[r.status for r in b] for b in batches] == [["UNSHIPPED"]]


def test_rejection_marks_inbox_row_for_retry(store):
    store.stage("amazon", "IT", [StagedOrder("405-9", "UNSHIPPED", "MERCHANT", T0, {"orderId": "405-9"})])
    store.record_rejections("amazon", "IT", [Rejection("405-9", "invalid_payload", "bad")])
    rows = [r.order_id for b in store.inbox_to_import("amazon", "IT", 10) for r in b]
    assert rows == ["405-9"]  # not-imported orders are offered again to the next import


def test_shipment_claim_is_exclusive_and_in_doubt_is_reclaimed(stocked):
    stocked.write_orders("amazon", "IT", plans_for(stocked, [make_order("405-1", ("1", "MUG", 1))]).plans)
    from sqlalchemy import update

    from ordersync.shop.schema import orders

    with stocked.engine.begin() as conn:
        conn.execute(update(orders).values(status="shipped", carrier="brt", tracking_number="TRK1", shipped_at=T0))
    [item] = stocked.shipments_to_confirm("amazon", "IT", "shipped")
    assert item.lines == (("1", 1),) and not item.in_doubt
    token = stocked.claim_shipment(item, "BRT", None)
    assert token is not None
    assert stocked.claim_shipment(item, "BRT", None) is None  # a second run cannot take it
    assert stocked.shipments_to_confirm("amazon", "IT", "shipped") == []  # claimed, within lease
    stocked.finish_shipment(item, token, "sending")  # outcome unknown
    [doubt] = stocked.shipments_to_confirm("amazon", "IT", "shipped")
    assert doubt.in_doubt
    token2 = stocked.claim_shipment(doubt, "BRT", None)
    assert token2 not in (None, token)
    stocked.finish_shipment(doubt, token2, "confirmed")
    assert stocked.shipments_to_confirm("amazon", "IT", "shipped", lease=timedelta(0)) == []
    assert stocked.count("shipment_confirmations", state="confirmed") == 1


def test_datetimes_round_trip_as_utc(stocked):
    stocked.write_orders("amazon", "IT", plans_for(stocked, [make_order("405-1", ("1", "MUG", 1))]).plans)
    from sqlalchemy import select

    from ordersync.shop.schema import orders

    with stocked.engine.connect() as conn:
        row = conn.execute(select(orders.c.purchase_date, orders.c.marketplace_updated_at)).one()
    assert row.purchase_date == T0 and row.purchase_date.tzinfo is not None
    assert row.marketplace_updated_at == T0 + timedelta(minutes=5)


def test_record_run_keeps_one_row_per_step_and_run(store):
    store.record_run(ENTRY, "import", "run-1", {"imported": 1})
    store.record_run(ENTRY, "import", "run-1", {"imported": 2})  # task retry
    store.record_run(ENTRY, "import", "run-2", {"imported": 0})
    assert store.count("sync_runs") == 2


def test_only_orders_in_exactly_the_shipped_status_are_confirmed(stocked):
    orders_ = [make_order(f"405-{i}", (str(i), "MUG", 1)) for i in range(3)]
    stocked.write_orders("amazon", "IT", plans_for(stocked, orders_).plans)
    from sqlalchemy import update

    from ordersync.shop.schema import orders

    for oid, status in (("405-0", "shipped"), ("405-1", "Shipped"), ("405-2", "shipped_partially")):
        with stocked.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.marketplace_order_id == oid)
                .values(status=status, carrier="brt", tracking_number=f"T-{oid}", shipped_at=T0)
            )
    assert [i.order_id for i in stocked.shipments_to_confirm("amazon", "IT", "shipped")] == ["405-0"]


def test_a_status_update_counts_only_when_the_status_changed(stocked):
    order = make_order("407-1", ("L1", "MUG", 1))
    stocked.write_orders("amazon", "IT", plans_for(stocked, [order]).plans)
    # the same copy read again (a recovery over synced days): no update
    assert stocked.update_orders("amazon", "IT", [order]) == 0
    # a newer copy with the same status: still no status update
    later = replace(order, last_updated=order.last_updated + timedelta(hours=1))
    assert stocked.update_orders("amazon", "IT", [later]) == 0
    # shipped on the marketplace: one update, once
    shipped = replace(later, status=OrderStatus.SHIPPED, last_updated=later.last_updated + timedelta(hours=1))
    assert stocked.update_orders("amazon", "IT", [shipped]) == 1
    assert stocked.update_orders("amazon", "IT", [shipped]) == 0
    # an older copy never brings the old status back
    assert stocked.update_orders("amazon", "IT", [later]) == 0
