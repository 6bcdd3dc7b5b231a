"""Accept-first channels without Airflow runs: config keys, the acceptance rule, payload parsing,
and the Octopia / Lengow hooks over real HTTP against the sandbox (tokens, 401 once, 5xx retry,
errors naming the connection field)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync import rules
from ordersync.channels import build_channel
from ordersync.channels.parsing import InvalidOrder
from ordersync.channels.cdiscount import CdiscountChannel
from ordersync.channels.lengow import LengowChannel
from ordersync.config import ConfigError, load_config
from ordersync.errors import MarketplaceAuthError, MarketplaceUnavailable
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def write(tmp_path, text):
    path = tmp_path / "marketplaces.yaml"
    path.write_text(text)
    return path


def test_shipped_config_has_cdiscount_and_lengow_entries():
    config = load_config()
    cd, lg = config.entry("cdiscount_fr"), config.entry("lengow_amazon_fr")
    assert cd.dag_id == "ordersync_cdiscount_fr" and cd.accepts_first and cd.accept_policy == "stock"
    assert cd.sales_channel == "SCID01" and build_channel(cd).sales_channel == "SCID01"
    assert lg.dag_id == "ordersync_lengow_amazon_fr" and lg.lengow_marketplace == "amazon_fr"
    assert not config.entry("amazon_it").accepts_first


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{marketplace: cdiscount, country: IT, conn_id: c}", ["'country'", "unknown country", "FR"]),
        ("{marketplace: lengow, country: FR, conn_id: c}", ["lengow_marketplace"]),
        ("{marketplace: amazon, country: FR, conn_id: c, lengow_marketplace: amazon_fr}", ["only applies"]),
        ("{marketplace: cdiscount, country: FR, conn_id: c, accept_policy: maybe}", ["'accept_policy'", "stock"]),
        ("{marketplace: lengow, country: FR, conn_id: c, lengow_marketplace: Amazon FR}", ["'lengow_marketplace'"]),
        ("{marketplace: amazon, country: FR, conn_id: c, sales_channel: SCID01}", ["sales_channel only applies"]),
        ("{marketplace: cdiscount, country: FR, conn_id: c, sales_channel: 'SC ID'}", ["'sales_channel'", "SCID01"]),
    ],
)
def test_channel_keys_are_validated(tmp_path, entry, words):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"entries:\n  - {entry}\n"))
    for word in words:
        assert word in str(err.value)


def test_two_lengow_marketplaces_of_one_country_and_shop_are_refused(tmp_path):
    text = (
        "entries:\n"
        "  - {marketplace: lengow, country: FR, conn_id: l, lengow_marketplace: amazon_fr}\n"
        "  - {marketplace: lengow, country: FR, conn_id: l, lengow_marketplace: cdiscount}\n"
    )
    with pytest.raises(ConfigError, match="one Lengow marketplace per country"):
        load_config(write(tmp_path, text), strict=True)


def _order(*lines):
    return MarketplaceOrder(
        marketplace="cdiscount", country="FR", order_id="CD1", status=OrderStatus.WAITING_ACCEPTANCE,
        fulfillment=Fulfillment.MERCHANT, purchase_date=T0, last_updated=T0, currency="EUR", total=Decimal("1"),
        lines=tuple(OrderLine(str(i), sku, None, sku, qty, Decimal("1")) for i, (sku, qty) in enumerate(lines)),
        ship_to=Address("A", "1 rue", "Paris", "75011", "FR"),
    )


def test_acceptance_rule_counts_stock_already_promised_in_the_run():
    entry = load_config().entry("cdiscount_fr")
    catalog = rules.Catalog(by_key={"MUG": {"id": 1, "stock": 3}, "OLD": {"id": 2, "stock": 9, "active": False}})
    committed: dict[int, int] = {}
    assert rules.acceptance(_order(("MUG", 2)), catalog, entry, committed) == ("accept", "every line in stock")
    decision, why = rules.acceptance(_order(("MUG", 2)), catalog, entry, committed)
    assert decision == "refuse" and "2 ordered, 1 in stock" in why
    assert rules.acceptance(_order(("NOPE", 1)), catalog, entry)[0] == "refuse"
    assert rules.acceptance(_order(("OLD", 1)), catalog, entry)[0] == "refuse"
    assert rules.acceptance(_order(("MUG", -1)), catalog, entry)[0] == "refuse"
    always = entry.model_copy(update={"accept_policy": "always"})
    assert rules.acceptance(_order(("NOPE", 1)), catalog, always)[0] == "accept"


def test_waiting_orders_wait_and_are_never_imported():
    entry = load_config().entry("cdiscount_fr")
    decisions = rules.decide([_order(("MUG", 1))], {"MUG": {"id": 1, "stock": 5}}, entry)
    assert decisions.waiting == [("CD1", "waiting for the seller's acceptance")]
    assert not decisions.plans and not decisions.reservations  # no stock held at acceptance


@pytest.mark.parametrize(
    ("channel", "raw", "message"),
    [
        (CdiscountChannel(None), {"orderId": "A", "status": "Mystery", "lines": [{"orderLineId": "1", "quantity": 1}]},
         "status: unknown order status 'Mystery'"),
        (CdiscountChannel(None), {"orderId": "A", "status": "InPreparation", "currencyCode": "EUR", "lines": []}, "lines is missing"),
        (CdiscountChannel(None, sales_channel="SCID01"), {"orderId": "A", "status": "InPreparation", "salesChannel": {"id": "SC2"}},
         "salesChannel.id 'SC2' is not this entry's channel"),
        (LengowChannel(None, "amazon_fr", "FR"), {"marketplace_order_id": "A", "lengow_status": "x", "packages": []}, "unknown lengow_status"),
        (LengowChannel(None, "amazon_fr", "FR"), {"marketplace_order_id": "A", "lengow_status": "shipped", "packages": [{"cart": []}]}, "cart is missing"),
    ],
)
def test_bad_payloads_are_invalid_orders(channel, raw, message):
    with pytest.raises(InvalidOrder, match=message):
        channel.parse(raw)


def _octopia(**changes):
    """An Octopia order (the reference's fields) with ``changes`` merged on top."""
    line = {"status": "InPreparation", "quantity": 2, "offer": {"sellerProductId": "MUG", "supplyMode": "Seller"},
            "totalPrice": {"sellingPrice": "25.00", "shippingCost": "4.90"},
            "shippingAddress": {"firstName": "Léa", "lastName": "Petit", "addressLine1": "3 rue Neuve", "postalCode": "69003",
                                "city": "Lyon", "countryCode": "FR"}, "parcels": []}
    raw = {"orderId": "SCID01A", "salesChannel": {"id": "SCID01", "name": "Cdiscount"}, "status": "InPreparation",
           "purchasedAt": "2026-11-19T08:00:00Z", "createdAt": "2026-11-19T09:30:00Z", "updatedAt": "2026-11-19T10:00:00Z",
           "currencyCode": "EUR", "billingAddress": {"firstName": "Hugo", "lastName": "Martin", "email": "h@example.invalid"},
           "lines": [{**line, "lineId": "1"}, {**line, "orderLineId": "2", "quantity": 3,
                                                "totalPrice": {"sellingPrice": "10.00"}, "shippingAddress": {"city": "Elsewhere"}}]}
    raw.update(changes)
    return raw


def test_octopia_order_reads_the_reference_fields():
    order = CdiscountChannel(None, sales_channel="SCID01").parse(_octopia())
    assert order.purchase_date == datetime(2026, 11, 19, 8, 0, tzinfo=timezone.utc)  # purchasedAt, not createdAt
    assert order.last_updated == datetime(2026, 11, 19, 10, 0, tzinfo=timezone.utc)
    assert order.currency == "EUR" and order.status is OrderStatus.UNSHIPPED and order.fulfillment is Fulfillment.MERCHANT
    assert [line.line_id for line in order.lines] == ["1", "2"]  # lineId or orderLineId
    # sellingPrice is the line's total: unit price = total / quantity; the order total adds shipping
    assert [line.unit_price for line in order.lines] == [Decimal("12.50"), Decimal("3.33")]
    assert order.total == Decimal("39.90")
    assert order.buyer_name == "Hugo Martin" and order.buyer_email == "h@example.invalid"
    assert order.ship_to.city == "Lyon" and order.ship_to.name == "Léa Petit"  # the first seller line's address
    for status, expected in (("Processing", OrderStatus.AWAITING_RELEASE), ("Accepted", OrderStatus.AWAITING_RELEASE),
                             ("Delivered", OrderStatus.SHIPPED), ("Rejected", OrderStatus.CANCELLED)):
        assert CdiscountChannel(None).parse(_octopia(status=status)).status is expected


def test_octopia_supply_modes_decide_who_ships():
    channel = CdiscountChannel(None)
    theirs = _octopia()
    for line in theirs["lines"]:
        line["offer"] = {**line["offer"], "supplyMode": "Fulfillment"}
    assert channel.parse(theirs).fulfillment is Fulfillment.MARKETPLACE
    assert channel.stage(theirs).fulfillment == "MARKETPLACE"
    entry = load_config().entry("cdiscount_fr")
    decisions = rules.decide([channel.parse(theirs)], {"MUG": {"id": 1, "stock": 5}}, entry)
    assert decisions.skipped and not decisions.plans  # import_fba off: never a shop order, no stock move
    mixed = _octopia()
    mixed["lines"][1]["offer"] = {**mixed["lines"][1]["offer"], "supplyMode": "Xdock"}
    with pytest.raises(InvalidOrder, match="mixed fulfilment is not supported: lines 2 \\(Xdock\\)"):
        channel.parse(mixed)
    assert channel.stage(mixed).fulfillment == "MERCHANT"  # listed with the orders the shop must look at
    unknown = _octopia()
    unknown["lines"][0]["offer"] = {"sellerProductId": "MUG"}
    with pytest.raises(InvalidOrder, match=r"lines\[0\]\.offer\.supplyMode: unknown supply mode None"):
        channel.parse(unknown)


@pytest.mark.parametrize("raw", [{}, {"orderId": 5, "lines": "x", "billingAddress": [], "currencyCode": 7},
                                 {"orderId": "A", "lines": [None, {"quantity": "2", "totalPrice": {"sellingPrice": "x"}}]}])
def test_octopia_staging_never_fails(raw):
    staged = CdiscountChannel(None).stage(raw)
    assert staged.grid["store_name"] == "Cdiscount" and staged.grid["total"] is None
    with pytest.raises(InvalidOrder):
        CdiscountChannel(None).parse(raw)


# -- hooks over real HTTP -----------------------------------------------------------------------


@pytest.fixture
def connections(airflow_db, sandbox_server):
    url = sandbox_server.url
    env = {
        "AIRFLOW_CONN_OCTOPIA_TEST": {"conn_type": "http", "host": f"{url}/octopia", "login": "sandbox-octopia-client",
                                      "password": "sandbox-octopia-secret",
                                      "extra": {"seller_id": "123456", "token_url": f"{url}/octopia/auth/token"}},
        "AIRFLOW_CONN_OCTOPIA_BAD": {"conn_type": "http", "host": f"{url}/octopia", "login": "sandbox-octopia-client",
                                     "password": "wrong", "extra": {"seller_id": "123456", "token_url": f"{url}/octopia/auth/token"}},
        "AIRFLOW_CONN_OCTOPIA_NOSELLER": {"conn_type": "http", "host": f"{url}/octopia", "login": "a", "password": "b",
                                          "extra": {"token_url": f"{url}/octopia/auth/token"}},
        "AIRFLOW_CONN_LENGOW_TEST": {"conn_type": "http", "host": f"{url}/lengow", "login": "sandbox-lengow-access",
                                     "password": "sandbox-lengow-secret"},
    }
    for key, value in env.items():
        os.environ[key] = json.dumps(value)
    yield sandbox_server
    for key in env:
        os.environ.pop(key, None)


def test_octopia_hook_token_cache_401_refresh_and_5xx_retry(connections):
    from ordersync.hooks import MarketplaceHook, OctopiaHook

    sandbox = connections
    MarketplaceHook._tokens.clear()
    hook = OctopiaHook("octopia_test", backoff=0.01)
    hook.call("GET", "/orders", params={"pageSize": 1})
    hook.call("GET", "/orders", params={"pageSize": 1})
    assert hook.stats["token"] == 1  # cached
    sandbox.post_admin("/cdiscount/fail", {"operation": "getOrders", "status": 503, "count": 2})
    assert hook.call("GET", "/orders", params={"pageSize": 1}).status_code == 200
    assert hook.stats["retried"] == 2
    sandbox.post_admin("/cdiscount/fail", {"operation": "getOrders", "status": 401, "count": 1})
    assert hook.call("GET", "/orders", params={"pageSize": 1}).status_code == 200
    assert hook.stats["token"] == 2  # refreshed once
    # a token endpoint that stays down is unavailable, not bad credentials
    sandbox.post_admin("/cdiscount/fail", {"operation": "token", "status": 503, "count": 2})
    with pytest.raises(MarketplaceUnavailable, match="unavailable"):
        OctopiaHook("octopia_test", max_retries=1, backoff=0.01).token(refresh=True)


def test_octopia_hook_errors_name_the_connection_field(connections):
    from ordersync.hooks import OctopiaHook

    with pytest.raises(MarketplaceAuthError, match="extra.seller_id"):
        OctopiaHook("octopia_noseller").call("GET", "/orders")
    with pytest.raises(MarketplaceAuthError) as err:
        OctopiaHook("octopia_bad", backoff=0.01).call("GET", "/orders")
    assert "'octopia_bad'" in str(err.value) and "wrong" not in str(err.value)  # never the secret


def test_octopia_problem_documents_become_request_errors(connections):
    """Octopia answers errors as problem+json: the hook reports its title and detail."""
    from ordersync.hooks import OctopiaHook
    from ordersync.errors import MarketplaceRequestError

    with pytest.raises(MarketplaceRequestError) as err:
        OctopiaHook("octopia_test", backoff=0.01).call("GET", "/orders", params={"pageSize": 101})
    assert err.value.status == 400 and err.value.code == "Bad Request" and "pageSize" in err.value.message


def test_lengow_hook_gets_token_and_account(connections):
    from ordersync.hooks import LengowHook

    hook = LengowHook("lengow_test", backoff=0.01)
    assert hook.account_id() == 4321
    body = hook.call("GET", "/v3.0/orders", params={"account_id": 4321, "marketplace": "amazon_fr", "page_size": 5}).json()
    assert body["count"] > 5 and len(body["results"]) == 5 and body["next"]


def test_channels_follow_the_listing_contract(connections):
    """Lookup and recovery call every channel alike: a window, a fulfilment, open orders since."""
    from ordersync.hooks import LengowHook, OctopiaHook
    from ordersync.model import Fulfillment, Window

    now = datetime.now(timezone.utc)
    # other tests move the shared sandbox clock forward: reach well past real time
    window = Window(now - timedelta(days=365), now + timedelta(days=2))
    cdiscount = CdiscountChannel(OctopiaHook("octopia_test"), sales_channel="SCID01")
    updated = [o.order_id for page in cdiscount.pages(window) for o in page]
    created = [o.order_id for page in cdiscount.open_pages(window.start) for o in page]
    assert updated and sorted(created) == sorted(updated)
    theirs = [o for page in cdiscount.pages(window, fulfilment=Fulfillment.MARKETPLACE) for o in page]
    ours = [o.order_id for page in cdiscount.pages(window, fulfilment=Fulfillment.MERCHANT) for o in page]
    assert ours == [i for i in updated if i not in {o.order_id for o in theirs}]
    # Cdiscount ships some orders from its own warehouse (supplyMode Fulfillment)
    assert theirs and all(o.fulfillment == "MARKETPLACE" for o in theirs)

    # Lengow cannot filter by fulfilment: the channel drops the other orders itself; onboarding
    # lists only orders still to ship
    lengow = LengowChannel(LengowHook("lengow_test"), "amazon_fr", "FR")
    every = {o.order_id: o for page in lengow.pages(window) for o in page}
    merchant = [o.order_id for page in lengow.pages(window, fulfilment=Fulfillment.MERCHANT) for o in page]
    by_marketplace = [o.order_id for page in lengow.pages(window, fulfilment=Fulfillment.MARKETPLACE) for o in page]
    assert by_marketplace and merchant and sorted(merchant + by_marketplace) == sorted(every)
    assert {every[i].fulfillment for i in by_marketplace} == {"MARKETPLACE"}
    open_ = {o.order_id: o for page in lengow.open_pages(window.start) for o in page}
    assert open_ and set(open_) <= set(every) and {o.status for o in open_.values()} == {"waiting_shipment"}
    assert set(open_) == {i for i, o in every.items() if o.status == "waiting_shipment"}
