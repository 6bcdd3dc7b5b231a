"""Import rules, run windows, carrier mapping and the shop connection: pure logic, no services."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync import rules, steps
from ordersync.config import load_config
from ordersync.errors import MissingConnection
from ordersync.hooks import ShopDatabaseHook
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus

ENTRY = load_config().entry("amazon_it")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
PRODUCTS = {"MUG": {"id": 1}, "CAP": {"id": 2}}


def order(oid="405-1", status=OrderStatus.UNSHIPPED, fulfillment=Fulfillment.MERCHANT, sku="MUG", qty=1, address=True):
    return MarketplaceOrder(
        marketplace="amazon",
        country="IT",
        order_id=oid,
        status=status,
        fulfillment=fulfillment,
        purchase_date=T0,
        last_updated=T0,
        currency="EUR",
        total=Decimal("9.90"),
        lines=(OrderLine("1", sku, "B0TEST", "Mug", qty, Decimal("9.90")),),
        buyer_email="x@marketplace.amazon.it",
        ship_to=Address("A B", "Via Roma 1", "Milano", "20121", "IT") if address else None,
    )


def test_decide_sorts_a_page():
    page = [
        order("ok"),
        order("pending", status=OrderStatus.PENDING),
        order("cancelled", status=OrderStatus.CANCELLED),
        order("fba", status=OrderStatus.SHIPPED, fulfillment=Fulfillment.MARKETPLACE),
        order("nosku", sku="NOPE"),
        order("noaddr", address=False),
        order("zero", qty=0),
    ]
    d = rules.decide(page, PRODUCTS, ENTRY)
    assert [p.order.order_id for p in d.plans] == ["ok"]
    assert d.plans[0].product_ids == (1,) and d.plans[0].status == "processing" and d.plans[0].moves_stock
    assert [w[0] for w in d.waiting] == ["pending"]
    assert [s[0] for s in d.skipped] == ["cancelled", "fba"]
    assert {r.order_id: r.reason for r in d.rejected} == {
        "nosku": "no_matching_product",
        "noaddr": "missing_address",
        "zero": "invalid_value",
    }


def test_customer_key_has_no_personal_data():
    key = rules.customer_key(order())
    assert key.startswith("amazon:") and "marketplace.amazon.it" not in key
    assert key == rules.customer_key(order("other"))  # same buyer, same customer


def test_run_window_widens_by_overlap_or_uses_lookback():
    w = steps.run_window(ENTRY, T0, T0 + timedelta(minutes=30))
    assert w.start == T0 - timedelta(minutes=ENTRY.overlap_minutes) and w.end == T0 + timedelta(minutes=30)
    w = steps.run_window(ENTRY, T0, T0 + timedelta(minutes=30), lookback_hours=72)
    assert w.start == T0 + timedelta(minutes=30) - timedelta(hours=72)


def test_window_end_is_clamped_two_minutes_before_now_and_backfills_are_not():
    from ordersync.channels.amazon import AmazonChannel

    channel = AmazonChannel(None, "IT")
    current = steps.run_window(ENTRY, T0, T0 + timedelta(minutes=30))
    clamped = channel.clamp(current, now=T0 + timedelta(minutes=31))
    assert clamped.start == current.start and clamped.end == T0 + timedelta(minutes=29)
    # a backfill of an interval long past reads exactly its widened interval
    past = steps.run_window(ENTRY, T0 - timedelta(days=30), T0 - timedelta(days=30, minutes=-30))
    assert channel.clamp(past, now=T0) == past
    # an interval that ends in the future cannot be read yet beyond now - 2 min
    assert channel.clamp(steps.run_window(ENTRY, T0, T0), now=T0 - timedelta(hours=1)) is None


def test_carrier_mapping():
    assert steps.carrier_for(ENTRY, "brt") == ("BRT", None)
    assert steps.carrier_for(ENTRY, "Fermopoint") == ("Other", "Fermopoint")
    assert steps.carrier_for(ENTRY, None) == ("Other", "Other")
    mapped_to_other = ENTRY.model_copy(update={"carrier_map": {"courier": "Other"}})
    assert steps.carrier_for(mapped_to_other, "courier") == ("Other", "courier")  # Amazon needs the name


def test_shop_connection_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_SHOP_MISSING", raising=False)
    with pytest.raises(MissingConnection, match="'shop_missing' does not exist"):
        ShopDatabaseHook("shop_missing").get_url()
    assert not list(tmp_path.iterdir())  # no fallback file
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_OWN", json.dumps(
        {"conn_type": "ordersync_shop", "host": "/srv/shop.db", "extra": {"dialect": "sqlite"}}))
    assert ShopDatabaseHook("shop_own").get_url() == "sqlite:////srv/shop.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SHOP_PG",
        json.dumps({"conn_type": "postgres", "host": "db", "login": "u", "password": "p@ss", "schema": "shop", "port": 5432}),
    )
    assert ShopDatabaseHook("shop_pg").get_url() == "postgresql+psycopg://u:p%40ss@db:5432/shop"
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_MY", json.dumps({"conn_type": "mysql", "host": "db", "login": "root", "schema": "shop"}))
    assert ShopDatabaseHook("shop_my").get_url() == "mysql+pymysql://root@db/shop"
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_HTTP", json.dumps({"conn_type": "http", "host": "x"}))
    with pytest.raises(MissingConnection, match="not a shop database"):
        ShopDatabaseHook("shop_http").get_url()


def test_shop_test_connection_reports_the_schema(monkeypatch, tmp_path):
    from ordersync.shop.store import ShopStore

    path = tmp_path / "shop.db"
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_TEST", json.dumps({"conn_type": "ordersync_shop", "host": str(path),
                                                              "extra": {"dialect": "sqlite"}}))
    ok, message = ShopDatabaseHook("shop_test").test_connection()
    assert ok and "no ordersync schema yet" in message
    ShopStore.from_url(f"sqlite:///{path}").migrate()
    ok, message = ShopDatabaseHook("shop_test").test_connection()
    assert ok and "schema at revision" in message
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_BAD", json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 1,
                                                             "login": "u", "password": "hunter22", "schema": "x"}))
    ok, message = ShopDatabaseHook("shop_bad").test_connection()
    assert not ok and "hunter22" not in message


def test_manual_actions_refuse_ids_not_in_the_marketplace_format():
    from ordersync.channels.amazon import AmazonChannel
    from ordersync.errors import BadActionRequest

    with pytest.raises(BadActionRequest, match=r"not amazon order ids: 12345, 402-1234567-123 \(expected"):
        steps.manual_action(AmazonChannel(None, "IT"), None, ENTRY, "import",  # type: ignore[arg-type]
                            ["402-1234567-1234567", "12345", "402-1234567-123"])
    with pytest.raises(BadActionRequest, match="order_ids is empty"):
        steps.manual_action(AmazonChannel(None, "IT"), None, ENTRY, "import", [" "])  # type: ignore[arg-type]
