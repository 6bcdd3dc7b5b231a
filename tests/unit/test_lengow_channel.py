"""The Lengow channel against a stand-in hook: parsing of real-shaped orders, listings and their
date windows, paging, and actions per order or per line as each marketplace requires."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersync.channels.lengow import STATUSES, LengowChannel
from ordersync.channels.parsing import InvalidOrder, parse_time
from ordersync.errors import MarketplaceRequestError, MarketplaceUnavailable, UnsupportedAction
from ordersync.model import Fulfillment, OrderStatus, Shipment, Window
from tests.helpers.lengow_fake import FakeLengowHook

SHIP_PER_LINE = {
    "orders": {
        "carriers": {"GLS": {"label": "Gls"}, "LAPOSTE": {"label": "La Poste"}},
        "actions": {
            "accept": {"args": ["line"], "optional_args": [], "status": ["waiting_acceptance"]},
            "refuse": {"args": ["line"], "optional_args": [], "status": ["waiting_acceptance"]},
            "ship": {"args": ["line", "carrier"], "optional_args": ["tracking_number", "tracking_url"], "status": ["waiting_shipment"]},
        },
    }
}
SHIP_ORDER = {
    "orders": {
        "carriers": {},
        "actions": {
            "accept": {"args": [], "optional_args": ["line"], "status": ["waiting_acceptance"]},
            "cancel": {"args": [], "optional_args": ["line"], "status": ["waiting_acceptance"]},
            "ship": {"args": ["tracking_number", "tracking_url"], "optional_args": ["line", "carrier"], "status": ["waiting_shipment"]},
        },
    }
}
MARKETPLACES = {"per_line": SHIP_PER_LINE, "per_order": SHIP_ORDER}


def order(**changes) -> dict:
    """A Lengow order with two lines, in the API's shape."""
    raw = {
        "marketplace": "per_line", "account_id": 155, "marketplace_country_iso2": "FR", "marketplace_order_id": "O-1",
        "merchant_order_id": [], "marketplace_status": "SHIPPING", "lengow_status": "waiting_shipment", "workflow_rank": 7,
        "marketplace_order_date": "2026-03-01T10:00:00Z", "total_order": "35.00", "total_tax": None, "commission": "5.00",
        "processing_fee": None, "shipping": "5.00", "currency": {"iso_a3": "EUR", "symbol": "€", "name": "Euro"},
        "comments": None, "invoice_number": None, "invoice_url": None, "payments": [],
        "packages": [{
            "cart": [
                {"marketplace_order_line_id": "O-1-1", "marketplace_product_id": "MP1", "merchant_product_id": {"field": "sku", "id": "SKU-A"},
                 "lengow_status": "waiting_shipment", "title": "A", "amount": "20.00", "quantity": 2},
                {"marketplace_order_line_id": "O-1-2", "marketplace_product_id": "SKU-B", "merchant_product_id": {"field": None, "id": None},
                 "lengow_status": "waiting_shipment", "title": "B", "amount": "10.00", "quantity": 1},
            ],
            "delivery": {"first_name": "Léa", "last_name": "Martin", "first_line": "1 rue Victor Hugo", "second_line": None,
                         "complement": "bât. B", "zipcode": "75011", "city": "Paris", "phone_home": None, "phone_office": None,
                         "phone_mobile": "0600000000", "common_country_iso_a2": "FR", "trackings": []},
        }],
        "billing_address": {"first_name": "Léa", "last_name": "Martin", "email": None},
        "contact_address": None,
        "imported_at": "2026-03-01T10:05:00Z",
        "updated_at": "2026-03-01T11:00:00Z",
    }
    raw.update(changes)
    return raw


def channel(marketplace: str = "per_line", **hook) -> tuple[LengowChannel, FakeLengowHook]:
    fake = FakeLengowHook(marketplaces=MARKETPLACES, **hook)
    return LengowChannel(fake, marketplace, "FR"), fake


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), [
    ("new", OrderStatus.AWAITING_RELEASE), ("accepted", OrderStatus.AWAITING_RELEASE),
    ("waiting_acceptance", OrderStatus.WAITING_ACCEPTANCE), ("waiting_shipment", OrderStatus.UNSHIPPED),
    ("shipped", OrderStatus.SHIPPED), ("closed", OrderStatus.SHIPPED), ("partial_refunded", OrderStatus.SHIPPED),
    ("canceled", OrderStatus.CANCELLED), ("refused", OrderStatus.CANCELLED), ("refunded", OrderStatus.CANCELLED),
    ("refunding", OrderStatus.CANCELLED), ("to_refund", OrderStatus.CANCELLED),
    ("pickup_to_prepare", OrderStatus.UNSHIPPED), ("to_pickup", OrderStatus.SHIPPED),
    ("pickup_completed", OrderStatus.SHIPPED), ("pickup_canceled", OrderStatus.CANCELLED),
])
def test_every_lengow_status_has_a_meaning(status, expected):
    assert channel()[0].parse(order(lengow_status=status)).status is expected


def test_the_status_list_is_the_openapi_one():
    assert set(STATUSES) == {
        "new", "waiting_acceptance", "refused", "accepted", "waiting_shipment", "shipped", "closed", "canceled",
        "refunding", "refunded", "partial_refunded", "to_refund", "pickup_to_prepare", "to_pickup",
        "pickup_completed", "pickup_canceled",
    }


def test_an_unknown_status_is_named_with_its_value():
    with pytest.raises(InvalidOrder, match="lengow_status 'on_hold'"):
        channel()[0].parse(order(lengow_status="on_hold"))


def test_purchase_date_falls_back_to_imported_at_and_names_both_fields():
    ch = channel()[0]
    assert ch.parse(order()).purchase_date == parse_time("2026-03-01T10:00:00Z", "x")
    assert ch.parse(order(marketplace_order_date=None)).purchase_date == parse_time("2026-03-01T10:05:00Z", "x")
    with pytest.raises(InvalidOrder, match="marketplace_order_date and imported_at"):
        ch.parse(order(marketplace_order_date=None, imported_at=None))
    assert ch.stage(order(marketplace_order_date=None)).grid["purchase_date"] == parse_time("2026-03-01T10:05:00Z", "x")


def test_sku_from_the_merchant_product_id_else_the_marketplace_product_id():
    parsed = channel()[0].parse(order())
    assert [line.sku for line in parsed.lines] == ["SKU-A", "SKU-B"]
    assert [line.unit_price for line in parsed.lines] == [Decimal("10.00"), Decimal("10.00")]  # amount is the line total


@pytest.mark.parametrize("total", [-1, "-1", "-1.00", None])
def test_an_unknown_total_is_the_lines_plus_shipping(total):
    ch = channel()[0]
    assert ch.parse(order(total_order=total)).total == Decimal("35.00")
    assert ch.parse(order(total_order=total, shipping=None, total_tax=None)).total == Decimal("30.00")
    assert ch.stage(order(total_order=total)).grid["total"] == Decimal("35.00")


def test_marketplace_delivered_orders_are_marketplace_fulfilled():
    ch = channel()[0]
    fba = order(order_types=[{"type": "is_delivered_by_marketplace"}], lengow_status="shipped")
    assert ch.parse(fba).fulfillment is Fulfillment.MARKETPLACE and ch.parse(fba).is_fba
    assert ch.stage(fba).fulfillment == "MARKETPLACE"
    other = order(order_types=[{"type": "is_prime"}])
    assert ch.parse(other).fulfillment is Fulfillment.MERCHANT and ch.stage(order(order_types=None)).fulfillment == "MERCHANT"


def test_nulls_where_real_orders_have_them():
    raw = order(shipping=None, total_tax=None, contact_address=None, currency=None, billing_address=None)
    parsed = channel()[0].parse(raw)
    assert parsed.currency == "EUR" and parsed.buyer_name == "Léa Martin"  # from the delivery address
    assert parsed.ship_to.line2 == "bât. B" and parsed.ship_to.country_code == "FR"


def test_cancelled_lines_of_a_live_order_are_left_out():
    raw = order()
    raw["packages"][0]["cart"][1]["lengow_status"] = "canceled"
    assert [line.line_id for line in channel()[0].parse(raw).lines] == ["O-1-1"]
    assert len(channel()[0].parse({**raw, "lengow_status": "canceled"}).lines) == 2


# -- listings --------------------------------------------------------------------------------


def _orders(n: int) -> list[dict]:
    out = []
    for i in range(n):
        raw = order(marketplace_order_id=f"O-{i}")
        if i % 3 == 0:
            raw["order_types"] = [{"type": "is_delivered_by_marketplace"}]
        out.append(raw)
    return out


def test_pages_follow_next_and_filter_fulfilment_client_side():
    ch, fake = channel(orders=_orders(250))
    ch.page_size = 100
    window = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    pages = list(ch.pages(window))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [p["page"] for p in fake.gets("/v3.0/orders")] == [1, 2, 3]
    assert all(p["updated_from"] == "2026-03-01T00:00:00Z" and p["updated_to"] == "2026-03-02T00:00:00Z"
               and p["marketplace"] == "per_line" and p["account_id"] == 155 for p in fake.gets("/v3.0/orders"))
    fba = [o for page in ch.pages(window, fulfilment=Fulfillment.MARKETPLACE) for o in page]
    merchant = [o for page in ch.pages(window, fulfilment=Fulfillment.MERCHANT) for o in page]
    assert len(fba) == 84 and len(merchant) == 166 and {o.fulfillment for o in fba} == {"MARKETPLACE"}
    assert LengowChannel(fake, "x", "FR", page_size=500).page_size == 100  # Lengow's maximum


def test_id_lookups_and_waiting_listings_carry_a_date_window():
    ch, fake = channel(orders=_orders(3) + [order(marketplace_order_id="W", lengow_status="waiting_acceptance")])
    found, missing = ch.fetch(["O-1", "NOPE"])
    assert [o.order_id for o in found] == ["O-1"] and missing == ["NOPE"]
    now = datetime.now(UTC)
    for params in fake.gets("/v3.0/orders"):
        since = parse_time(params["updated_from"], "updated_from")
        assert timedelta(days=364) < now - since < timedelta(days=366)
    fake.calls.clear()
    assert [o.order_id for page in ch.waiting_pages() for o in page] == ["W"]
    (params,) = fake.gets("/v3.0/orders")
    assert params["lengow_status"] == "waiting_acceptance" and now - parse_time(params["updated_from"], "x") > timedelta(days=30)


def test_onboarding_lists_open_orders_by_update_not_by_order_date():
    ch, fake = channel(orders=[order(marketplace_order_date=None), order(marketplace_order_id="S", lengow_status="shipped")])
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert [o.order_id for page in ch.open_pages(since) for o in page] == ["O-1"]
    params = fake.gets("/v3.0/orders")
    assert {p["lengow_status"] for p in params} == {"waiting_shipment", "pickup_to_prepare"}
    assert all(p["updated_from"] == "2026-01-01T00:00:00Z" and "marketplace_order_date_from" not in p for p in params)


# -- actions ---------------------------------------------------------------------------------


def _shipment(order_id: str = "O-1", items=(("O-1-1", 2), ("O-1-2", 1)), tracking: str = "TRK1") -> Shipment:
    return Shipment(order_id, "1", "GLS", tracking, datetime(2026, 3, 2, tzinfo=UTC), items=tuple(items))


def test_ship_per_line_where_the_marketplace_requires_line():
    ch, fake = channel()
    ch.confirm_shipment(_shipment(), "gls", None)  # matched on the code, case-insensitively
    posts = fake.posts()
    assert [p["line"] for p in posts] == ["O-1-1", "O-1-2"]
    assert all(p["carrier"] == "GLS" and p["tracking_number"] == "TRK1" and p["action_type"] == "ship"
               and p["marketplace"] == "per_line" and p["marketplace_order_id"] == "O-1" and p["account_id"] == 155
               for p in posts)
    assert "tracking_url" not in posts[0]  # optional and unknown: not sent
    ch.confirm_shipment(_shipment(), "gls", None)  # again: Lengow holds both lines, nothing is sent
    assert len(fake.posts()) == 2
    assert len(fake.gets("/v3.0/marketplaces")) == 1  # read once per channel instance


def test_carrier_matched_on_a_label_and_refused_when_unknown():
    ch, fake = channel()
    ch.confirm_shipment(_shipment(), "Other", "la poste")  # unmapped shop carrier, matched on the label
    assert {p["carrier"] for p in fake.posts()} == {"LAPOSTE"}
    ch, fake = channel()
    with pytest.raises(MarketplaceRequestError) as err:
        ch.confirm_shipment(_shipment(), "Other", "pigeon")
    assert err.value.code == "missing_argument" and "carrier" in err.value.message and "per_line" in err.value.message
    assert "pigeon" in err.value.message and fake.posts() == []


def test_one_action_per_order_where_line_is_optional_and_required_args_are_checked():
    ch, fake = channel("per_order")
    with pytest.raises(MarketplaceRequestError) as err:  # tracking_url required and no template
        ch.confirm_shipment(_shipment(), "Colissimo", None)
    assert err.value.status == 400 and err.value.code == "missing_argument" and "tracking_url" in err.value.message
    assert fake.posts() == []
    ch.tracking_url = "https://track.example/{carrier}/{tracking_number}"
    ch.confirm_shipment(_shipment(), "Colissimo", None)
    (post,) = fake.posts()
    assert "line" not in post and post["carrier"] == "Colissimo"  # no carrier list: the shop's name
    assert post["tracking_url"] == "https://track.example/Colissimo/TRK1"


def test_a_queued_action_without_errors_counts_as_sent_an_errored_one_does_not():
    queue = [
        {"marketplace_order_id": "O-1", "marketplace": "per_line", "action_type": "ship", "line": "O-1-1", "errors": "",
         "processed": True, "queued": False, "tracking_number": "TRK1"},
        {"marketplace_order_id": "O-1", "marketplace": "per_line", "action_type": "ship", "line": "O-1-2", "errors": "refused by the marketplace",
         "processed": False, "queued": False, "tracking_number": "TRK1"},
    ]
    ch, fake = channel(actions=copy.deepcopy(queue))
    ch.confirm_shipment(_shipment(), "GLS", None)
    assert [p["line"] for p in fake.posts()] == ["O-1-2"]  # only the line whose action failed
    queue[1]["errors"] = None  # null means no error too
    ch, fake = channel(actions=copy.deepcopy(queue))
    ch.confirm_shipment(_shipment(), "GLS", None)
    assert fake.posts() == []


def test_a_lost_answer_is_checked_in_the_queue_before_anything_is_sent_again():
    ch, fake = channel(lose_posts=1)
    ch.confirm_shipment(_shipment(), "GLS", None)
    assert [p["line"] for p in fake.posts()] == ["O-1-1", "O-1-2"] and fake.waits == []  # found in the queue: no wait, no resend
    ch, fake = channel(drop_posts=10)  # Lengow keeps failing: the task fails after the hook's retries
    with pytest.raises(MarketplaceUnavailable):
        ch.confirm_shipment(_shipment(), "GLS", None)
    assert len(fake.posts()) == fake.max_retries + 1 and fake.actions == [] and fake.waits == [1.0, 2.0, 4.0]


def test_acknowledgements_and_package_confirmed_consider_every_line():
    ch, fake = channel(orders=[order()])
    ch.confirm_shipment(_shipment(items=(("O-1-1", 2),)), "GLS", None)
    assert not ch.package_confirmed(_parcel("O-1"))  # line O-1-2 has no ship action yet
    assert ch.acknowledgements(["O-1"]) == ([], {})  # queued, not processed yet
    ch.confirm_shipment(_shipment(items=(("O-1-2", 1),)), "GLS", None)
    assert ch.package_confirmed(_parcel("O-1"))
    fake.actions[0]["processed"] = True
    assert ch.acknowledgements(["O-1"]) == ([], {})  # one line acknowledged, the other not yet
    fake.actions[1]["processed"] = True
    assert ch.acknowledgements(["O-1"]) == (["O-1"], {})
    fake.actions[1].update(processed=False, errors="line refused: already shipped")
    done, failed = ch.acknowledgements(["O-1"])
    assert done == [] and failed == {"O-1": "line O-1-2: line refused: already shipped"}


def test_answers_per_line_and_answered_considers_every_line():
    ch, fake = channel(orders=[order(lengow_status="waiting_acceptance")])
    parsed = ch.parse(order(lengow_status="waiting_acceptance"))
    assert not ch.answered("O-1")
    ch.answer(parsed, "accept")
    assert [(p["action_type"], p["line"]) for p in fake.posts()] == [("accept", "O-1-1"), ("accept", "O-1-2")]
    assert ch.answered("O-1") and ch.answer_failed("O-1") is None
    fake.actions[1]["errors"] = "not acknowledged in time"
    assert not ch.answered("O-1") and "O-1-2" in ch.answer_failed("O-1")
    ch.answer(parsed, "accept")  # only the failed line goes again
    assert [p["line"] for p in fake.posts()] == ["O-1-1", "O-1-2", "O-1-2"]
    assert ch.answered("O-1") and ch.answer_failed("O-1") is None


def test_cancel_where_the_marketplace_has_it_unsupported_where_not():
    ch, fake = channel("per_order")
    ch.cancel("O-1")
    ch.cancel("O-1")
    assert [(p["action_type"], "line" in p) for p in fake.posts()] == [("cancel", False)]
    with pytest.raises(UnsupportedAction, match="per_line has no cancel"):
        channel()[0].cancel("O-1")


def test_an_unknown_marketplace_is_a_clear_refusal():
    ch, _ = channel("galeries_lafayette")
    with pytest.raises(MarketplaceRequestError, match="no marketplace 'galeries_lafayette'"):
        ch.confirm_shipment(_shipment(), "GLS", None)


def _parcel(order_id: str):
    from datetime import datetime, timezone

    from ordersync.model import Shipment

    return Shipment(order_id=order_id, package_ref="1", carrier="LAPOSTE", tracking_number="T1",
                    ship_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
