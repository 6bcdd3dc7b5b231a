"""Issue #13's named hostile inputs, on SQLite, PostgreSQL and MariaDB: each becomes its own
not-imported row (or a flagged import), the rest of the page goes in, nothing reaches the logs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from ordersync import steps
from ordersync.shop import schema as t
from tests.fuzz.test_hostile_pages import CHANNELS, Buyer, PageChannel

pytestmark = pytest.mark.services
NOW = datetime.now(timezone.utc)


def amazon(oid, **changes):
    raw = CHANNELS["amazon"][1](oid, Buyer(len(oid)), NOW)
    for path, value in changes.items():
        target = raw
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return raw


CASES = {
    "buyer-str": ({"buyer": "x"}, "not_imported", "invalid_payload"),
    "proceeds-str": ({"proceeds": "19.80"}, "imported", None),  # no grandTotal: the lines' sum, as before
    "title-int": ({"orderItems.0.product.title": 12345}, "not_imported", "invalid_payload"),
    "sku-int": ({"orderItems.0.product.sellerSku": 12345}, "not_imported", "invalid_payload"),
    "email-int": ({"buyer.buyerEmail": 42}, "not_imported", "invalid_payload"),
    "qty-huge": ({"orderItems.0.quantityOrdered": 10**20}, "not_imported", "invalid_value"),
    "qty-2-31": ({"orderItems.0.quantityOrdered": 2**31}, "not_imported", "invalid_value"),
    "euro": ({"proceeds.grandTotal.currencyCode": "EURO"}, "not_imported", "invalid_value"),
    "big-amount": ({"proceeds.grandTotal.amount": "1e12"}, "not_imported", "invalid_value"),
    "neg-price": ({"orderItems.0.product.price.unitPrice.amount": "-9.90"}, "not_imported", "invalid_value"),
    "dup-line": ({"orderItems.1.orderItemId": "dup-line-1"}, "not_imported", "invalid_value"),
    "long-city": ({"recipient.deliveryAddress.city": "C" * 300}, "imported", None),
    "nul-name": ({"buyer.buyerName": "Zq\x00name"}, "imported", None),
    "old-created": ({"createdTime": "1990-01-01T00:00:00Z"}, "not_imported", "invalid_value"),
}


def test_named_hostile_orders_are_set_aside_one_by_one(store, caplog):
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 100}, {"sku": "CAP", "name": "Cap", "stock": 100}])
    entry = CHANNELS["amazon"][2]()
    page = [amazon("good-1"), amazon("L" * 65), "not an object", {"orderItems": []}]
    for oid, (changes, _, _) in CASES.items():
        page.append(amazon(oid, **changes))
    channel = PageChannel(CHANNELS["amazon"][0](), [page])
    with caplog.at_level(logging.DEBUG):
        looked = steps.lookup(channel, store, entry, steps.run_window(entry, NOW - timedelta(hours=1), NOW))
        steps.import_orders(channel, store, entry)
    assert looked["unreadable"] == 3  # the over-long id, the string entry, the order without id
    ib, ni = t.inbox.c, t.not_imported.c
    with store.engine.connect() as conn:
        states = dict(conn.execute(select(ib.marketplace_order_id, ib.state)).all())
        reasons = dict(conn.execute(select(ni.marketplace_order_id, ni.reason)).all())
        flags = dict(conn.execute(select(t.orders.c.marketplace_order_id, t.orders.c.flags)).all())
    assert states["good-1"] == "imported"
    for oid, (_, state, reason) in CASES.items():
        assert (states[oid], reasons.get(oid)) == (state, reason), oid
    assert sum(1 for k, v in reasons.items() if k.startswith("unreadable-") and v == "unreadable") == 3
    assert "truncated" in flags["long-city"]
    assert "Zqname" not in caplog.text and "zqmail" not in caplog.text


def test_far_future_update_never_freezes_the_staged_order(store):
    entry = CHANNELS["amazon"][2]()
    real = CHANNELS["amazon"][0]()
    store.stage("amazon", "IT", [real.stage(amazon("future", lastUpdatedTime="9999-12-31T23:59:59-05:00"))])
    later = amazon("future", lastUpdatedTime=(NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    later["fulfillment"]["fulfillmentStatus"] = "CANCELLED"
    counts = store.stage("amazon", "IT", [real.stage(later)])
    assert counts.changed == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(t.inbox.c.marketplace_status)).scalar_one() == "CANCELLED"
    del entry


def test_a_rejected_write_never_logs_buyer_data(store):
    row = {"customer_key": "k1", "marketplace": "amazon", "name": "Zqsecret Buyer", "email": "zqsecret@example.invalid",
           "created_at": NOW}
    with store.engine.begin() as conn:
        conn.execute(insert(t.customers).values(**row))
    with pytest.raises(SQLAlchemyError) as caught, store.engine.begin() as conn:
        conn.execute(insert(t.customers).values(**row))  # the unique key refuses it
    assert "zqsecret" not in str(caught.value).lower()


class AnsweringCdiscount(CHANNELS["cdiscount"][0]().__class__):  # type: ignore[misc]
    """The real Cdiscount channel's parsing and staging; answers recorded instead of sent."""

    def __init__(self):
        super().__init__(None, sales_channel="SCID01")
        self.sent: list[tuple[str, str]] = []

    def answer(self, order, decision):
        self.sent.append((order.order_id, decision))

    def answered(self, order_id):
        return False


def test_accept_leaves_an_order_import_would_refuse_unanswered_and_visible(store):
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 100}, {"sku": "CAP", "name": "Cap", "stock": 100}])
    entry, channel = CHANNELS["cdiscount"][2](), AnsweringCdiscount()
    good, bad = (CHANNELS["cdiscount"][1](oid, Buyer(3), NOW) for oid in ("CD-GOOD", "CD-NEGATIVE"))
    for raw in (good, bad):
        raw["status"] = "WaitingAcceptance"
    bad["lines"][0]["totalPrice"]["sellingPrice"] = "-25.00"
    store.stage("cdiscount", "FR", [channel.stage(good), channel.stage(bad)])
    counts = steps.accept(channel, store, entry)
    assert (counts["accepted"], counts["invalid"]) == (1, 1)
    assert channel.sent == [("CD-GOOD", "accept")]  # the rule neither accepts nor refuses the bad one
    forced = steps.accept(channel, store, entry, order_ids=["CD-NEGATIVE"], decision="refuse")
    assert forced["refused"] == 1 and channel.sent[-1] == ("CD-NEGATIVE", "refuse")  # the merchant still can


def test_reasons_quote_payload_values_briefly():
    from ordersync.channels.parsing import QUOTE_LIMIT, InvalidOrder

    real = CHANNELS["cdiscount"][0]()
    raw = CHANNELS["cdiscount"][1]("CD-LONG", Buyer(4), NOW)
    raw["status"] = "S" * 5000
    with pytest.raises(InvalidOrder) as err:
        real.parse(raw)
    assert "unknown order status" in str(err.value) and len(str(err.value)) < 40 + QUOTE_LIMIT + 20
    amazon_raw = amazon("A-MONEY", proceeds={"grandTotal": {"currency": Buyer(5).email}})
    with pytest.raises(InvalidOrder) as err:
        CHANNELS["amazon"][0]().parse(amazon_raw)
    assert Buyer(5).email not in str(err.value) and "grandTotal" in str(err.value)
