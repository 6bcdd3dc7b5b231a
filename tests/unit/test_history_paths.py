"""Issue #15's fast paths on SQLite, PostgreSQL and MariaDB: fulfillment's bookmarks never hide a
package that is still pending, and the bulk insert keeps insert-or-ignore's exactly-once keys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from ordersync.shop import schema as t
from ordersync.shop.bulk import insert_ignore_many
from ordersync.shop.db import utcnow
from tests.unit.test_store import T0, make_order, plans_for

pytestmark = pytest.mark.services


@pytest.fixture
def shipped(store):
    """Two imported orders, both in the shipped status with a tracking number."""
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 10}])
    store.write_orders("amazon", "IT", plans_for(store, [make_order(f"406-{i}", ("1", "MUG", 1)) for i in (1, 2)]).plans)
    with store.engine.begin() as conn:
        conn.execute(update(t.orders).values(status="shipped", carrier="brt", tracking_number="TRK", shipped_at=T0))
    return store


def bookmark(store, order_id):
    with store.engine.connect() as conn:
        return conn.execute(select(t.orders.c.confirm_state).where(t.orders.c.marketplace_order_id == order_id)).scalar()


def test_a_claimed_package_leaves_the_pending_range_and_a_refused_one_comes_back(shipped):
    first, second = shipped.shipments_to_confirm("amazon", "IT", "shipped")
    token = shipped.claim_shipment(first, "BRT", None)
    assert bookmark(shipped, first.order_id) == "claimed" and bookmark(shipped, second.order_id) is None
    shipped.finish_shipment(first, token, "rejected", "bad tracking number")
    assert [i.order_id for i in shipped.shipments_to_confirm("amazon", "IT", "shipped")] == [second.order_id]
    assert shipped.reset_rejected_shipments("amazon", "IT", [first.order_id]) == 1  # resend_fulfillment
    assert bookmark(shipped, first.order_id) is None
    assert {i.order_id for i in shipped.shipments_to_confirm("amazon", "IT", "shipped")} == {"406-1", "406-2"}


def test_an_attempt_in_doubt_is_listed_though_its_order_is_bookmarked(shipped):
    item = shipped.shipments_to_confirm("amazon", "IT", "shipped")[0]
    token = shipped.claim_shipment(item, "BRT", None)
    shipped.finish_shipment(item, token, "sending")
    doubt = [i for i in shipped.shipments_to_confirm("amazon", "IT", "shipped") if i.in_doubt]
    assert [i.order_id for i in doubt] == [item.order_id] and bookmark(shipped, item.order_id) == "claimed"


def test_packages_the_shop_wrote_itself_are_found_and_their_order_leaves_the_status_path(shipped):
    with shipped.engine.begin() as conn:  # a shop writing shop_packages directly, not add_package
        pk, line_pk = conn.execute(
            select(t.orders.c.id, t.order_lines.c.id).join(t.order_lines, t.order_lines.c.order_id == t.orders.c.id)
            .where(t.orders.c.marketplace_order_id == "406-1")).one()
        conn.execute(insert(t.shop_packages).values(order_id=pk, package_ref="7", tracking_number="PK7", shipped_at=T0))
        package = conn.execute(select(t.shop_packages.c.id).where(t.shop_packages.c.order_id == pk)).scalar()
        conn.execute(insert(t.shop_package_items).values(package_id=package, order_line_id=line_pk, quantity=1))
    listed = {(i.order_id, i.package_ref) for i in shipped.shipments_to_confirm("amazon", "IT", "shipped")}
    assert listed == {("406-1", "7"), ("406-2", "1")} and bookmark(shipped, "406-1") == "packages"
    [package_item] = [i for i in shipped.shipments_to_confirm("amazon", "IT", "shipped") if i.package_ref == "7"]
    shipped.claim_shipment(package_item, "BRT", None)
    assert [i.order_id for i in shipped.shipments_to_confirm("amazon", "IT", "shipped")] == ["406-2"]


def test_bulk_insert_ignores_existing_and_repeated_keys_and_keeps_values(store):
    now = utcnow()
    odd = "tab\there, new\nline, back\\slash, 'quote', % and é"
    row = {"customer_key": "k1", "marketplace": "amazon", "name": odd, "email": None, "phone": None, "tax_id": None,
           "created_at": now}
    with store.engine.begin() as conn:
        twice = insert_ignore_many(conn, t.customers, [row, {**row, "name": "again"}])  # same key twice in one batch
        later = insert_ignore_many(conn, t.customers, [{**row, "name": "later"}, {**row, "customer_key": "k2"}])
    # PostgreSQL counts what went in (staging uses it); the other drivers cannot tell
    expected = (1, 1) if store.engine.dialect.name == "postgresql" else (None, None)
    assert (twice, later) == expected
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.customers.c.customer_key, t.customers.c.name, t.customers.c.created_at)
                            .order_by(t.customers.c.customer_key)).all()
    assert [(r.customer_key, r.name) for r in rows] == [("k1", odd), ("k2", odd)]
    assert abs(rows[0].created_at - now) < timedelta(seconds=1) and rows[0].created_at.tzinfo is not None


def test_bulk_insert_binds_each_value_even_when_rows_share_one(store):
    """Rows sharing one datetime object between rows with another: each row stored with its own value."""
    shared, own = utcnow(), utcnow() - timedelta(days=3)
    rows = [{"customer_key": f"c{i}", "marketplace": "amazon", "name": "n", "email": None, "phone": None,
             "tax_id": None, "created_at": when} for i, when in enumerate([shared, shared, own, shared, own])]
    with store.engine.begin() as conn:
        count = insert_ignore_many(conn, t.customers, rows)
    assert count == (5 if store.engine.dialect.name == "postgresql" else None)
    with store.engine.connect() as conn:
        stored = conn.execute(select(t.customers.c.created_at).order_by(t.customers.c.customer_key)).scalars().all()
    assert [abs(s - w) < timedelta(milliseconds=1) for s, w in zip(stored, [shared, shared, own, shared, own], strict=True)] == [True] * 5


def test_bulk_insert_fills_scalar_defaults(store):
    with store.engine.begin() as conn:
        insert_ignore_many(conn, t.products, [{"sku": "S1", "name": "one", "price": Decimal("1.50")}])
    [product] = store.products_by_sku(["S1"]).values()
    assert product["stock"] == 0 and product["active"]
