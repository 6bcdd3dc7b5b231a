"""Behaviour of the sandbox marketplace over real HTTP: data, paging, rules, auth, shipments, admin."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from ordersync.marketplaces import AMAZON_MARKETPLACES
from ordersync.sandbox.catalog import CATALOG, SHOP_MISSING_SKUS, ean13_check_digit, shop_catalog
from ordersync.sandbox.world import World, iso, parse_time

from tests.helpers.sandbox import start_sandbox

SEARCH = "/orders/2026-01-01/orders"
IT = AMAZON_MARKETPLACES["IT"].marketplace_id
FR = AMAZON_MARKETPLACES["FR"].marketplace_id
DE = AMAZON_MARKETPLACES["DE"].marketplace_id
LONG_AGO = "2000-01-01T00:00:00Z"
CREDENTIALS = {"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token",
               "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(seed=5, days=3, orders_per_day=20, countries="IT,FR,DE") as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_world(sandbox):
    sandbox.post_admin("/reset")


@pytest.fixture
def api(sandbox):
    session = requests.Session()
    session.base = sandbox.url
    session.headers["x-amz-access-token"] = _token(sandbox)
    yield session
    session.close()


def _token(sandbox) -> str:
    response = requests.post(sandbox.url + "/auth/o2/token", data=CREDENTIALS, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _search(api, **params) -> requests.Response:
    return api.get(api.base + SEARCH, params=params, timeout=10)


def _ok(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _error(response: requests.Response, status: int, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert fragment.lower() in error["message"].lower(), error
    return error["message"]


def _all(api, **params) -> tuple[list[dict], dict]:
    """Every page of a search; returns the orders and the last page's body."""
    orders, token = [], None
    while True:
        body = _ok(_search(api, **params, **({"paginationToken": token} if token else {})))
        orders += body["orders"]
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            return orders, body


def _server_now(sandbox) -> datetime:
    return parse_time(sandbox.get_admin("/clock")["now"])


def _confirm(api, order: dict, ref: str, lines: list[tuple[str, int]], **package) -> requests.Response:
    body = {"marketplaceId": order["salesChannel"]["marketplaceId"],
            "packageDetail": {"packageReferenceId": ref, "carrierCode": "DHL", "trackingNumber": f"TRK{ref}",
                              "shipDate": "2026-01-02T09:30:00Z",
                              "orderItems": [{"orderItemId": i, "quantity": q} for i, q in lines], **package}}
    return api.post(f"{api.base}/orders/v0/orders/{order['orderId']}/shipmentConfirmation", json=body, timeout=10)


def _new_order(sandbox, **spec) -> dict:
    spec = {"marketplaceId": IT, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT",
            "items": [{"sellerSku": "OS-MUG-RED", "quantity": 2}, {"sellerSku": "OS-TEE-BLK-M", "quantity": 1}],
            **spec}
    return sandbox.post_admin("/orders", spec)["order"]


# -- generated data ------------------------------------------------------------------------------


def test_same_seed_and_anchor_give_identical_orders():
    anchor = datetime(2026, 3, 1, 12, tzinfo=UTC)
    first, second = World(seed=9, anchor=anchor), World(seed=9, anchor=anchor)
    assert json.dumps(first.orders()) == json.dumps(second.orders())
    assert json.dumps(World(seed=10, anchor=anchor).orders()) != json.dumps(first.orders())


def test_server_generates_the_same_world_as_in_process(sandbox):
    health = sandbox.get_admin("/health")
    world = World(seed=5, days=3, orders_per_day=20, countries=["IT", "FR", "DE"], anchor=parse_time(health["anchor"]))
    assert sandbox.get_admin("/orders")["orders"] == world.orders()


def test_generated_orders_look_like_amazon():
    anchor = datetime(2026, 3, 1, 12, tzinfo=UTC)
    world = World(seed=42, days=3, orders_per_day=40, countries=["IT", "FR", "DE", "UK", "PL"], anchor=anchor)
    orders = world.orders()
    assert len(orders) == 5 * 3 * 40
    assert len({o["orderId"] for o in orders}) == len(orders)
    by = Counter(o["fulfillment"]["fulfilledBy"] for o in orders)
    assert 0.15 < by["AMAZON"] / len(orders) < 0.35
    statuses = Counter(o["fulfillment"]["fulfillmentStatus"] for o in orders
                       if o["fulfillment"]["fulfilledBy"] == "MERCHANT")
    assert {"PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED"} <= set(statuses)
    currencies = {o["salesChannel"]["marketplaceId"]: o["proceeds"]["grandTotal"]["currencyCode"] for o in orders}
    assert currencies[AMAZON_MARKETPLACES["UK"].marketplace_id] == "GBP"
    assert currencies[AMAZON_MARKETPLACES["PL"].marketplace_id] == "PLN"
    for order in orders:
        assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", order["orderId"])
        created, updated = parse_time(order["createdTime"]), parse_time(order["lastUpdatedTime"])
        assert anchor - timedelta(days=3) <= created <= updated <= anchor
        status, fulfilled_by = order["fulfillment"]["fulfillmentStatus"], order["fulfillment"]["fulfilledBy"]
        if fulfilled_by == "AMAZON":
            assert status == "SHIPPED" and "buyerEmail" not in order["buyer"]
        else:
            domain = order["salesChannel"]["marketplaceName"].lower()
            assert order["buyer"]["buyerEmail"].endswith("@marketplace." + domain)
        if status == "PENDING":
            assert updated == created and anchor - created < timedelta(hours=6)
        total = Decimal(0)
        for item in order["orderItems"]:
            assert re.fullmatch(r"\d{14}", item["orderItemId"])
            assert 1 <= item["quantityOrdered"] <= 3
            unit = item["product"]["price"]["unitPrice"]["amount"]
            assert re.fullmatch(r"\d+\.\d{2}", unit)
            total += Decimal(unit) * item["quantityOrdered"]
            done, left = item["fulfillment"]["quantityFulfilled"], item["fulfillment"]["quantityUnfulfilled"]
            expected = {"SHIPPED": (item["quantityOrdered"], 0), "UNSHIPPED": (0, item["quantityOrdered"]),
                        "PENDING": (0, item["quantityOrdered"]), "CANCELLED": (0, 0)}.get(status)
            assert expected is None or (done, left) == expected
        assert Decimal(order["proceeds"]["grandTotal"]["amount"]) == total
        if status == "PARTIALLY_SHIPPED":
            items = order["orderItems"]
            assert any(i["fulfillment"]["quantityFulfilled"] for i in items)
            assert any(i["fulfillment"]["quantityUnfulfilled"] for i in items)
        latest_ship = parse_time(order["fulfillment"]["shipByWindow"]["latestDateTime"])
        assert timedelta(days=1) <= latest_ship - created <= timedelta(days=3)


def test_zero_decimal_currency_has_no_decimals():
    world = World(seed=1, days=1, orders_per_day=5, countries=["JP"], anchor=datetime(2026, 3, 1, tzinfo=UTC))
    amounts = [i["product"]["price"]["unitPrice"]["amount"] for o in world.orders() for i in o["orderItems"]]
    assert amounts and all(a.isdigit() for a in amounts)


def test_catalog_identifiers_and_shop_subset():
    assert 25 <= len(CATALOG) <= 35
    for product in CATALOG:
        assert re.fullmatch(r"B0[0-9A-Z]{8}", product.asin)
        assert len(product.ean) == 13 and int(product.ean[-1]) == ean13_check_digit(product.ean[:12])
        assert Decimal(product.price_eur) > 0
    shop = shop_catalog()
    assert {p.sku for p in shop} == {p.sku for p in CATALOG} - SHOP_MISSING_SKUS
    assert len(SHOP_MISSING_SKUS) == 3 and all(p.stock > 0 for p in shop)
    assert ean13_check_digit("400638133393") == 1  # a published EAN-13: 4006381333931


# -- searchOrders ----------------------------------------------------------------------------


def test_paging_returns_every_matching_order_exactly_once(api, sandbox):
    orders, last = _all(api, createdAfter=LONG_AGO, maxResultsPerPage=7)
    ids = [o["orderId"] for o in orders]
    assert len(ids) == len(set(ids))
    bound = parse_time(last["createdBefore"])
    expected = {o["orderId"] for o in sandbox.get_admin("/orders")["orders"] if parse_time(o["createdTime"]) <= bound}
    assert set(ids) == expected and len(ids) > 7
    keys = [(o["createdTime"], o["orderId"]) for o in orders]
    assert keys == sorted(keys)


def test_page_size_may_change_between_pages_but_filters_may_not(api):
    first = _ok(_search(api, createdAfter=LONG_AGO, maxResultsPerPage=5))
    token = first["pagination"]["nextToken"]
    second = _ok(_search(api, createdAfter=LONG_AGO, maxResultsPerPage=50, paginationToken=token,
                         includedData="BUYER"))
    assert not {o["orderId"] for o in first["orders"]} & {o["orderId"] for o in second["orders"]}
    assert second["createdBefore"] == first["createdBefore"]
    _error(_search(api, createdAfter=LONG_AGO, marketplaceIds=IT, paginationToken=token), 400, "paginationToken")
    _error(_search(api, createdAfter=LONG_AGO, paginationToken="bm90IGEgdG9rZW4"), 400, "paginationToken")


def test_pagination_token_expires_after_a_day(api, sandbox):
    token = _ok(_search(api, createdAfter=LONG_AGO, maxResultsPerPage=5))["pagination"]["nextToken"]
    sandbox.post_admin("/clock", {"advance_seconds": 25 * 3600})
    api.headers["x-amz-access-token"] = _token(sandbox)
    _error(_search(api, createdAfter=LONG_AGO, paginationToken=token), 400, "expired")


def test_filters(api, sandbox):
    truth = sandbox.get_admin("/orders")["orders"]
    for params, keep in [
        ({"marketplaceIds": IT}, lambda o: o["salesChannel"]["marketplaceId"] == IT),
        ({"marketplaceIds": f"{IT},{FR}"}, lambda o: o["salesChannel"]["marketplaceId"] in (IT, FR)),
        ({"marketplaceIds": [FR, DE]}, lambda o: o["salesChannel"]["marketplaceId"] in (FR, DE)),
        ({"fulfilledBy": "AMAZON"}, lambda o: o["fulfillment"]["fulfilledBy"] == "AMAZON"),
        ({"fulfillmentStatuses": "UNSHIPPED,PARTIALLY_SHIPPED", "fulfilledBy": "MERCHANT"},
         lambda o: o["fulfillment"]["fulfilledBy"] == "MERCHANT"
         and o["fulfillment"]["fulfillmentStatus"] in ("UNSHIPPED", "PARTIALLY_SHIPPED")),
    ]:
        orders, last = _all(api, createdAfter=LONG_AGO, **params)
        bound = parse_time(last["createdBefore"])
        expected = {o["orderId"] for o in truth if keep(o) and parse_time(o["createdTime"]) <= bound}
        assert {o["orderId"] for o in orders} == expected and expected, params


def test_window_bounds_are_inclusive(api, sandbox):
    order = sandbox.get_admin("/orders")["orders"][10]
    orders, _ = _all(api, createdAfter=order["createdTime"], createdBefore=order["createdTime"])
    assert order["orderId"] in {o["orderId"] for o in orders}
    assert all(o["createdTime"] == order["createdTime"] for o in orders)


def test_last_updated_window_echoes_its_upper_bound(api, sandbox):
    body = _ok(_search(api, lastUpdatedAfter=LONG_AGO, maxResultsPerPage=1))
    assert "createdBefore" not in body
    echoed = parse_time(body["lastUpdatedBefore"])
    assert abs(_server_now(sandbox) - timedelta(minutes=2) - echoed) < timedelta(seconds=5)
    given = iso(_server_now(sandbox) - timedelta(hours=5))
    assert _ok(_search(api, lastUpdatedAfter=LONG_AGO, lastUpdatedBefore=given))["lastUpdatedBefore"] == given


def test_two_minute_rule(api, sandbox):
    now = _server_now(sandbox)
    _error(_search(api, createdAfter=LONG_AGO, createdBefore=iso(now - timedelta(minutes=1))), 400, "two minutes")
    _ok(_search(api, createdAfter=LONG_AGO, createdBefore=iso(now - timedelta(minutes=3))))
    _error(_search(api, lastUpdatedAfter=iso(now - timedelta(seconds=30))), 400, "two minutes")
    # A change made now only becomes visible once it is more than two minutes old.
    orders = sandbox.get_admin("/orders")["orders"]
    order = next(o for o in orders if o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED")
    sandbox.post_admin(f"/orders/{order['orderId']}", {"fulfillmentStatus": "CANCELLED"})
    since = iso(now - timedelta(minutes=10))
    assert order["orderId"] not in {o["orderId"] for o in _all(api, lastUpdatedAfter=since)[0]}
    sandbox.post_admin("/clock", {"advance_seconds": 150})
    seen = {o["orderId"]: o for o in _all(api, lastUpdatedAfter=since, includedData="FULFILLMENT")[0]}
    assert seen[order["orderId"]]["fulfillment"]["fulfillmentStatus"] == "CANCELLED"


@pytest.mark.parametrize(("params", "fragment"), [
    ({}, "exactly one"),
    ({"createdAfter": LONG_AGO, "lastUpdatedAfter": LONG_AGO}, "exactly one"),
    ({"createdBefore": "2025-01-01T00:00:00Z"}, "exactly one"),
    ({"createdAfter": LONG_AGO, "lastUpdatedBefore": "2025-01-01T00:00:00Z"}, "lastUpdatedBefore"),
    ({"lastUpdatedAfter": LONG_AGO, "createdBefore": "2025-01-01T00:00:00Z"}, "createdBefore"),
    ({"createdAfter": "2025-02-30T00:00:00Z"}, "ISO 8601"),
    ({"createdAfter": "yesterday"}, "ISO 8601"),
    ({"createdAfter": "2025-01-02T00:00:00Z", "createdBefore": "2025-01-01T00:00:00Z"}, "after createdAfter"),
    ({"createdAfter": LONG_AGO, "maxResultsPerPage": "0"}, "between 1 and 100"),
    ({"createdAfter": LONG_AGO, "maxResultsPerPage": "101"}, "between 1 and 100"),
    ({"createdAfter": LONG_AGO, "maxResultsPerPage": "ten"}, "between 1 and 100"),
    ({"createdAfter": LONG_AGO, "fulfillmentStatuses": "UNSHIPPED,Shipped"}, "Shipped"),
    ({"createdAfter": LONG_AGO, "fulfilledBy": "SELLER"}, "SELLER"),
    ({"createdAfter": LONG_AGO, "includedData": "BUYER,ADDRESS"}, "ADDRESS"),
    ({"createdAfter": LONG_AGO, "marketplaceIds": "NOPE"}, "marketplace"),
    ({"createdAfter": LONG_AGO, "MarketplaceIds": IT}, "Unknown query parameter"),
])
def test_bad_search_parameters_are_rejected(api, params, fragment):
    response = _search(api, **params)
    _error(response, 400, fragment)
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_included_data_controls_the_datasets(api):
    def first(datasets: str | None) -> dict:
        params = {"createdAfter": LONG_AGO, "maxResultsPerPage": 1, "fulfilledBy": "MERCHANT",
                  "fulfillmentStatuses": "SHIPPED"}
        return _ok(_search(api, **params, **({"includedData": datasets} if datasets else {})))["orders"][0]

    bare = first(None)
    assert set(bare) <= {"orderId", "createdTime", "lastUpdatedTime", "programs", "salesChannel", "orderItems"}
    item = bare["orderItems"][0]
    assert set(item) == {"orderItemId", "quantityOrdered", "product"}
    assert set(item["product"]) == {"asin", "title", "sellerSku", "condition", "price"}
    buyer_only = first("BUYER")
    assert "buyer" in buyer_only and "recipient" not in buyer_only and "proceeds" not in buyer_only
    full = first("BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES")
    assert {"buyer", "recipient", "proceeds", "fulfillment", "packages"} <= set(full)
    assert {"proceeds", "fulfillment"} <= set(full["orderItems"][0])
    assert full["recipient"]["deliveryAddress"]["addressType"] == "RESIDENTIAL"
    assert "null" not in json.dumps(full)


def test_get_order(api, sandbox):
    order = sandbox.get_admin("/orders")["orders"][3]
    got = _ok(api.get(f"{api.base}{SEARCH}/{order['orderId']}", params={"includedData": "RECIPIENT"}, timeout=10))
    assert got["order"]["orderId"] == order["orderId"]
    assert got["order"]["recipient"] == order["recipient"] and "buyer" not in got["order"]
    response = api.get(f"{api.base}{SEARCH}/111-0000000-0000000", timeout=10)
    _error(response, 404, "not found")
    assert response.json()["errors"][0]["code"] == "NotFound"


# -- Login with Amazon and access tokens --------------------------------------------------------


def test_token_endpoint(sandbox):
    url = sandbox.url + "/auth/o2/token"
    body = requests.post(url, data=CREDENTIALS, timeout=10).json()
    assert body["access_token"].startswith("Atza|") and body["token_type"] == "bearer"
    assert body["expires_in"] == 3600 and body["refresh_token"] == CREDENTIALS["refresh_token"]
    for changes, status, error in [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|revoked"}, 400, "invalid_grant"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"refresh_token": ""}, 400, "invalid_request"),
    ]:
        response = requests.post(url, data={**CREDENTIALS, **changes}, timeout=10)
        assert response.status_code == status, changes
        assert response.json()["error"] == error and response.json()["error_description"]


def test_access_token_is_required_and_expires(api, sandbox):
    denied = "Access to requested resource is denied."
    for headers in ({}, {"x-amz-access-token": "Atza|made-up"}):
        response = requests.get(sandbox.url + SEARCH, params={"createdAfter": LONG_AGO}, headers=headers, timeout=10)
        assert _error(response, 403) == denied
        assert response.json()["errors"][0]["code"] == "Unauthorized"
    _ok(_search(api, createdAfter=LONG_AGO))
    sandbox.post_admin("/clock", {"advance_seconds": 3601})
    response = _search(api, createdAfter=LONG_AGO)
    assert _error(response, 403) == denied and "expired" in response.json()["errors"][0]["details"]
    api.headers["x-amz-access-token"] = _token(sandbox)
    _ok(_search(api, createdAfter=LONG_AGO))


def test_token_lifetime_and_credentials_are_configurable():
    with start_sandbox(orders_per_day=1, client_id="cid", client_secret="sec", refresh_token="Atzr|r",
                       token_lifetime=60) as other:
        login = {"grant_type": "refresh_token", "refresh_token": "Atzr|r", "client_id": "cid", "client_secret": "sec"}
        body = requests.post(other.url + "/auth/o2/token", data=login, timeout=10).json()
        assert body["expires_in"] == 60
        other.post_admin("/clock", {"advance_seconds": 61})
        response = requests.get(other.url + SEARCH, params={"createdAfter": LONG_AGO}, timeout=10,
                                headers={"x-amz-access-token": body["access_token"]})
        assert response.status_code == 403
        stopped = other.stop()
    assert stopped == 0  # SIGTERM is a clean shutdown


# -- confirmShipment ---------------------------------------------------------------------------


def test_partial_then_full_shipment(api, sandbox):
    order = _new_order(sandbox)
    mug, tee = (i["orderItemId"] for i in order["orderItems"])
    before = _server_now(sandbox)
    assert _confirm(api, order, "1", [(mug, 1)]).status_code == 204
    stored = sandbox.get_admin(f"/orders/{order['orderId']}")["order"]
    assert stored["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert stored["orderItems"][0]["fulfillment"] == {"quantityFulfilled": 1, "quantityUnfulfilled": 1}
    assert parse_time(stored["lastUpdatedTime"]) >= before.replace(microsecond=0)
    response = _confirm(api, order, "2", [(mug, 1), (tee, 1)], carrierCode="Other", carrierName="BRT")
    assert response.status_code == 204 and response.content == b""
    stored = sandbox.get_admin(f"/orders/{order['orderId']}")["order"]
    assert stored["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [(p["packageReferenceId"], p["carrier"]) for p in stored["packages"]] == [("1", "DHL"), ("2", "BRT")]
    assert stored["packages"][1]["packageItems"] == [{"orderItemId": i, "quantity": 1} for i in (mug, tee)]
    got = _ok(api.get(f"{api.base}{SEARCH}/{order['orderId']}", params={"includedData": "PACKAGES"}, timeout=10))
    assert got["order"]["packages"] == stored["packages"]


def test_duplicate_package_is_rejected_but_recorded(api, sandbox):
    order = _new_order(sandbox)
    mug = order["orderItems"][0]["orderItemId"]
    assert _confirm(api, order, "1", [(mug, 1)]).status_code == 204
    _error(_confirm(api, order, "1", [(mug, 1)]), 400, "already confirmed")
    received = sandbox.get_admin("/confirmations", orderId=order["orderId"])["confirmations"]
    summary = [(c["packageReferenceId"], c["accepted"], c["statusCode"]) for c in received]
    assert summary == [("1", True, 204), ("1", False, 400)]
    assert received[0]["trackingNumber"] == "TRK1" and received[0]["items"] == [{"orderItemId": mug, "quantity": 1}]
    stored = sandbox.get_admin(f"/orders/{order['orderId']}")["order"]
    assert stored["orderItems"][0]["fulfillment"]["quantityFulfilled"] == 1


def test_invalid_confirmations(api, sandbox):
    order = _new_order(sandbox)
    mug = order["orderItems"][0]["orderItemId"]
    fba = _new_order(sandbox, fulfilledBy="AMAZON", fulfillmentStatus="SHIPPED")
    cancelled = _new_order(sandbox, fulfillmentStatus="CANCELLED")
    cases = [
        (_confirm(api, order, "1", [(mug, 3)]), "exceeds"),
        (_confirm(api, order, "1", [(mug, 0)]), "positive integer"),
        (_confirm(api, order, "1", [("99999999999999", 1)]), "not part of order"),
        (_confirm(api, order, "1", [(mug, 1)], carrierCode="Other"), "carrierName"),
        (_confirm(api, order, "PKG-1", [(mug, 1)]), "positive number"),
        (_confirm(api, order, "1", [(mug, 1)], shipDate="02/01/2026"), "shipDate"),
        (_confirm(api, order, "1", [(mug, 1)], trackingNumber=""), "trackingNumber"),
        (_confirm(api, order, "1", [(mug, 1)], trackingNumer="x"), "Unknown field"),
        (_confirm(api, {**order, "salesChannel": {"marketplaceId": FR}}, "1", [(mug, 1)]), "does not match"),
        (_confirm(api, fba, "1", [(fba["orderItems"][0]["orderItemId"], 1)]), "fulfilled by Amazon"),
        (_confirm(api, cancelled, "1", [(cancelled["orderItems"][0]["orderItemId"], 1)]), "CANCELLED"),
        (api.post(f"{api.base}/orders/v0/orders/{order['orderId']}/shipmentConfirmation", data="{oops",
                  headers={"content-type": "application/json"}, timeout=10), "JSON"),
    ]
    for response, fragment in cases:
        _error(response, 400, fragment)
    _error(_confirm(api, {**order, "orderId": "402-0000000-0000000"}, "1", [(mug, 1)]), 404, "not found")
    received = sandbox.get_admin("/confirmations")["confirmations"]
    assert len(received) == len(cases) + 1 and not any(c["accepted"] for c in received)
    stored = sandbox.get_admin(f"/orders/{order['orderId']}")["order"]
    assert stored["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED" and "packages" not in stored


# -- admin API and counters ----------------------------------------------------------------------


def test_admin_can_craft_malformed_orders_served_as_stored(api, sandbox):
    order = _new_order(sandbox, overrides={"orderItems": [{"product": {"sellerSku": None}}, {"quantityOrdered": -2}]})
    got = _ok(api.get(f"{api.base}{SEARCH}/{order['orderId']}", timeout=10))["order"]
    assert "sellerSku" not in got["orderItems"][0]["product"]
    assert got["orderItems"][1]["quantityOrdered"] == -2
    unknown = _new_order(sandbox, items=[{"sellerSku": "NOT-IN-CATALOG", "quantity": 1, "unitPrice": "5.50"}])
    assert unknown["orderItems"][0]["product"]["sellerSku"] == "NOT-IN-CATALOG"
    assert unknown["proceeds"]["grandTotal"] == {"amount": "5.50", "currencyCode": "EUR"}


def test_admin_order_times_and_status_updates(sandbox):
    created = _new_order(sandbox, createdTime="2026-01-01T08:00:00Z", lastUpdatedTime="2026-01-01T08:30:00Z",
                         fulfillmentStatus="PENDING")
    assert (created["createdTime"], created["lastUpdatedTime"]) == ("2026-01-01T08:00:00Z", "2026-01-01T08:30:00Z")
    before = _server_now(sandbox).replace(microsecond=0)
    updated = sandbox.post_admin(f"/orders/{created['orderId']}", {"fulfillmentStatus": "UNSHIPPED"})["order"]
    assert updated["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert parse_time(updated["lastUpdatedTime"]) >= before
    pinned = sandbox.post_admin(f"/orders/{created['orderId']}",
                                {"fulfillmentStatus": "SHIPPED", "lastUpdatedTime": "2026-01-02T00:00:00Z"})["order"]
    assert pinned["lastUpdatedTime"] == "2026-01-02T00:00:00Z"
    assert all(i["fulfillment"]["quantityUnfulfilled"] == 0 for i in pinned["orderItems"])
    assert len(sandbox.get_admin("/orders", marketplaceId=FR)["orders"]) == 60
    missing = requests.post(sandbox.url + "/_admin/orders/000-0000000-0000000", json={}, timeout=10)
    assert missing.status_code == 404


def test_request_counters_and_reset(api, sandbox):
    # The api fixture already logged in once after the reset.
    assert sandbox.get_admin("/requests") == {"token": 1, "searchOrders": 0, "getOrder": 0, "confirmShipment": 0}
    _token(sandbox)
    _search(api, createdAfter=LONG_AGO)
    requests.get(sandbox.url + SEARCH, params={"createdAfter": LONG_AGO}, timeout=10)  # 403s count too
    api.get(f"{api.base}{SEARCH}/111-0000000-0000000", timeout=10)
    order = _new_order(sandbox)
    _confirm(api, order, "1", [(order["orderItems"][0]["orderItemId"], 1)])
    assert sandbox.get_admin("/requests") == {"token": 2, "searchOrders": 2, "getOrder": 1, "confirmShipment": 1}
    sandbox.post_admin("/clock", {"advance_seconds": 600})
    sandbox.post_admin("/reset")
    assert sandbox.get_admin("/requests")["confirmShipment"] == 0
    assert sandbox.get_admin("/confirmations")["confirmations"] == []
    assert requests.get(f"{sandbox.url}/_admin/orders/{order['orderId']}", timeout=10).status_code == 404
    assert abs(_server_now(sandbox) - datetime.now(UTC)) < timedelta(seconds=5)
    _ok(_search(api, createdAfter=LONG_AGO))  # tokens survive a reset


def test_every_response_has_a_request_id(api, sandbox):
    responses = [_search(api, createdAfter=LONG_AGO), _search(api), requests.get(sandbox.url + "/nowhere", timeout=10)]
    ids = [r.headers["x-amzn-RequestId"] for r in responses]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)
