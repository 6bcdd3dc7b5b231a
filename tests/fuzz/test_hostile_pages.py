"""Property-based fuzzing of hostile marketplace pages (issue #13: hostile input never stops a sync).

Pages mix good orders of each channel's real shape with mutated copies (wrong types, nulls, huge
and negative numbers, odd dates, long strings, NUL bytes, duplicate line ids, non-object entries,
missing ids). ``steps.lookup`` stages them through the channel's real ``stage`` and
``steps.import_orders`` reads them through its real ``parse``, on every engine of the ``store``
fixture. Whatever the page holds: no exception, every entry ends in a final inbox state
(imported, not imported, waiting, skipped), every good order is imported, and no buyer data
reaches the logs. ``ORDERSYNC_FUZZ_EXAMPLES`` raises the number of examples (25 by default).
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ordersync import steps
from ordersync.channels.amazon import AmazonChannel
from ordersync.channels.cdiscount import CdiscountChannel
from ordersync.channels.lengow import LengowChannel
from ordersync.channels.parsing import iso
from ordersync.config import Entry
from ordersync.model import Window
from ordersync.shop import schema as t

pytestmark = [pytest.mark.fuzz, pytest.mark.services]

EXAMPLES = int(os.environ.get("ORDERSYNC_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SERIAL = itertools.count()
FINAL = {"imported", "not_imported", "waiting", "skipped", "recorded"}
FIGURES: Counter = Counter()

HOSTILE = [
    None, 7, -1, 0, 10**20, 2**31, -(10**12), 1.5, True, "", "x", "EURO", "1e400", "NaN", "-19.80", "12345",
    "\x00", "Zz\x00zZ", "A" * 300, "é" * 70, "9999-12-31T23:59:59-05:00", "1900-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z", [], {}, [1, 2], {"amount": "1e400"}, {"amount": "-5", "currencyCode": "EUR"},
]


class Buyer:
    def __init__(self, n: int):
        self.name, self.first, self.last = f"Zqname{n} Zqlast{n}", f"Zqname{n}", f"Zqlast{n}"
        self.email, self.street, self.phone = f"zqmail{n}@example.invalid", f"{n} rue Zqstreet", f"+33699{n:06d}"

    def secrets(self) -> list[str]:
        return [self.first, self.last, self.email, self.street, self.phone]


def amazon_order(oid: str, buyer: Buyer, now: datetime) -> dict[str, Any]:
    return {
        "orderId": oid, "createdTime": iso(now - timedelta(hours=1)), "lastUpdatedTime": iso(now - timedelta(minutes=30)),
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [
            {"orderItemId": f"{oid}-1", "quantityOrdered": 1,
             "product": {"sellerSku": "MUG", "asin": "B0TEST", "title": "Mug", "price": {"unitPrice": {"amount": "9.90", "currencyCode": "EUR"}}}},
            {"orderItemId": f"{oid}-2", "quantityOrdered": 2,
             "product": {"sellerSku": "CAP", "title": "Cap", "price": {"unitPrice": {"amount": "5.00", "currencyCode": "EUR"}}}},
        ],
        "proceeds": {"grandTotal": {"amount": "19.90", "currencyCode": "EUR"}},
        "buyer": {"buyerName": buyer.name, "buyerEmail": buyer.email},
        "recipient": {"deliveryAddress": {"name": buyer.name, "addressLine1": buyer.street, "city": "Milano",
                                          "postalCode": "20121", "countryCode": "IT", "phone": buyer.phone}},
    }


def cdiscount_order(oid: str, buyer: Buyer, now: datetime) -> dict[str, Any]:
    address = {"firstName": buyer.first, "lastName": buyer.last, "addressLine1": buyer.street, "postalCode": "69003",
               "city": "Lyon", "countryCode": "FR", "phone": buyer.phone}
    line = {"status": "InPreparation", "quantity": 2, "offer": {"sellerProductId": "MUG", "supplyMode": "Seller"},
            "totalPrice": {"sellingPrice": "25.00", "shippingCost": "4.90"}, "shippingAddress": address, "parcels": []}
    return {"orderId": oid, "salesChannel": {"id": "SCID01", "name": "Cdiscount"}, "status": "InPreparation",
            "purchasedAt": iso(now - timedelta(hours=1)), "createdAt": iso(now - timedelta(hours=1)),
            "updatedAt": iso(now - timedelta(minutes=30)), "currencyCode": "EUR",
            "billingAddress": {"firstName": buyer.first, "lastName": buyer.last, "email": buyer.email},
            "lines": [{**line, "orderLineId": f"{oid}-1"},
                      {**line, "orderLineId": f"{oid}-2", "quantity": 1, "offer": {"sellerProductId": "CAP", "supplyMode": "Seller"}}]}


def lengow_order(oid: str, buyer: Buyer, now: datetime) -> dict[str, Any]:
    def cart(n: int, sku: str, qty: int) -> dict[str, Any]:
        return {"marketplace_order_line_id": f"{oid}-{n}", "marketplace_product_id": f"MP{n}",
                "merchant_product_id": {"field": "sku", "id": sku}, "lengow_status": "waiting_shipment",
                "title": sku.title(), "amount": "10.00", "quantity": qty}

    return {
        "marketplace": "amazon_fr", "account_id": 155, "marketplace_country_iso2": "FR", "marketplace_order_id": oid,
        "merchant_order_id": [], "marketplace_status": "SHIPPING", "lengow_status": "waiting_shipment",
        "marketplace_order_date": iso(now - timedelta(hours=1)), "total_order": "35.00", "shipping": "5.00",
        "currency": {"iso_a3": "EUR", "symbol": "€", "name": "Euro"}, "payments": [],
        "packages": [{"cart": [cart(1, "MUG", 2), cart(2, "CAP", 1)],
                      "delivery": {"first_name": buyer.first, "last_name": buyer.last, "first_line": buyer.street,
                                   "second_line": None, "complement": None, "zipcode": "75011", "city": "Paris",
                                   "phone_home": None, "phone_office": None, "phone_mobile": buyer.phone,
                                   "common_country_iso_a2": "FR", "trackings": []}}],
        "billing_address": {"first_name": buyer.first, "last_name": buyer.last, "email": buyer.email},
        "contact_address": None, "imported_at": iso(now - timedelta(hours=1)), "updated_at": iso(now - timedelta(minutes=30)),
    }


CHANNELS = {
    "amazon": (lambda: AmazonChannel(None, "IT"), amazon_order,
               lambda: Entry(marketplace="amazon", country="IT", conn_id="c"), ("orderItems", 0, "orderItemId")),
    "cdiscount": (lambda: CdiscountChannel(None, sales_channel="SCID01"), cdiscount_order,
                  lambda: Entry(marketplace="cdiscount", country="FR", conn_id="c", sales_channel="SCID01"),
                  ("lines", 0, "orderLineId")),
    "lengow": (lambda: LengowChannel(None, "amazon_fr", "FR"), lengow_order,
               lambda: Entry(marketplace="lengow", country="FR", conn_id="c", lengow_marketplace="amazon_fr"),
               ("packages", 0, "cart", 0, "marketplace_order_line_id")),
}


class PageChannel:
    """The real channel's ``stage`` and ``parse`` over pages given in advance (no HTTP)."""

    def __init__(self, real: Any, pages: list[list[Any]]):
        self.real, self.name, self.country, self._pages = real, real.name, real.country, pages

    def clamp(self, window: Window, now: datetime) -> Window:
        return window

    def pages(self, window: Window, *, fulfilment=None):
        return iter([] if fulfilment is not None else [[self.real.stage(raw) for raw in page] for page in self._pages])

    def open_pages(self, since: datetime):
        return iter([])

    def parse(self, raw: dict) -> Any:
        return self.real.parse(raw)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += paths(child, (*prefix, i))
    return out


def put(raw: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        raw = raw[step]
    raw[path[-1]] = value


mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10**6), st.sampled_from(HOSTILE)),
    st.tuples(st.just("dup_line"), st.just(0), st.just(None)),
    st.tuples(st.just("non_object"), st.just(0), st.sampled_from(["order", 42, None, ["x"], 1.5])),
    st.tuples(st.just("many"), st.integers(0, 10**6), st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4)),
)


def mutate(raw: dict, kind: str, pick: int, value: Any, line_path: tuple) -> Any:
    if kind == "non_object":
        return value
    if kind == "dup_line":
        first = line_path[:-2]
        lines = raw
        for step in first:
            lines = lines[step]
        lines.append(copy.deepcopy(lines[0]))  # a second line with the same line id
        return raw
    values = value if kind == "many" else [value]
    for n, hostile in enumerate(values):
        options = paths(raw)
        put(raw, options[(pick + n * 7919) % len(options)], copy.deepcopy(hostile))
    return raw


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_hostile_pages_never_stop_a_sync(name, store, caplog):
    make_channel, make_order, make_entry, line_path = CHANNELS[name]
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 10**6}, {"sku": "CAP", "name": "Cap", "stock": 10**6}])
    entry = make_entry()

    @FUZZ
    @given(goods=st.integers(1, 4), bads=st.lists(mutation, min_size=0, max_size=5), shuffle=st.randoms(use_true_random=False))
    def run(goods, bads, shuffle):
        caplog.clear()
        n = next(SERIAL)
        now = datetime.now(timezone.utc)
        buyers: list[Buyer] = []

        def fresh(tag: str) -> tuple[str, dict]:
            buyers.append(Buyer(len(buyers) + n * 100))
            oid = f"{tag}-{n}-{len(buyers)}"
            return oid, make_order(oid, buyers[-1], now)

        good_ids, page = [], []
        for _ in range(goods):
            oid, raw = fresh("GOOD")
            good_ids.append(oid)
            page.append(raw)
        non_objects = set()  # identical entries are one unreadable order (same payload digest)
        for kind, pick, value in bads:
            _, raw = fresh("BAD")
            page.append(mutate(raw, kind, pick, value, line_path))
            if kind == "non_object":
                non_objects.add(repr(page[-1]))
        shuffle.shuffle(page)
        channel = PageChannel(make_channel(), [page[:3], page[3:]])
        with caplog.at_level(logging.DEBUG):
            looked = steps.lookup(channel, store, entry, Window(now - timedelta(hours=2), now))
            imported = steps.import_orders(channel, store, entry)
        assert looked["unreadable"] >= len(non_objects)
        ib = t.inbox.c
        with store.engine.connect() as conn:
            states = dict(conn.execute(select(ib.marketplace_order_id, ib.state).where(ib.marketplace == name)).all())
        assert {oid: states.get(oid) for oid in good_ids} == dict.fromkeys(good_ids, "imported")
        assert {k: v for k, v in states.items() if v not in FINAL} == {}
        text = caplog.text
        leaked = [s for b in buyers for s in b.secrets() if s in text]
        assert leaked == [], f"buyer data in the logs: {leaked}"
        FIGURES[f"{name}:cases"] += 1
        FIGURES[f"{name}:orders"] += len(page)
        FIGURES[f"{name}:imported"] += imported["imported"]
        FIGURES[f"{name}:not_imported"] += imported["not_imported"]
        FIGURES[f"{name}:waiting_or_skipped"] += imported["waiting"] + imported["skipped"]

    run()
    print(f"\nfuzz figures {name} ({store.engine.dialect.name}): {dict((k, v) for k, v in FIGURES.items() if k.startswith(name))}")
    FIGURES.clear()
