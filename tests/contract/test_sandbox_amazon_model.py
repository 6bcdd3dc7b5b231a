"""The sandbox speaks Amazon's published models, field for field.

Responses and the confirmShipment request we send are validated against the Swagger definitions
of Orders API v2026-01-01 (searchOrders, getOrder) and v0 (confirmShipment), made strict: every
object schema that lists properties forbids others, so a misspelt or invented field fails.
The model files come from ``ORDERSYNC_SPAPI_MODELS`` (default: ../shared/reference/amazon-sp-api
next to the repo); without them the module skips, or fails when ``CI=true``.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime
from pathlib import Path

import pytest
import requests
from jsonschema import Draft4Validator, FormatChecker

from tests.helpers.sandbox import start_sandbox

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("ORDERSYNC_SPAPI_MODELS", REPO.parent / "shared" / "reference" / "amazon-sp-api"))
ORDERS_MODEL, V0_MODEL = "orders_2026-01-01.json", "ordersV0.json"
SEARCH = "/orders/2026-01-01/orders"
ALL_DATASETS = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # RFC 3339 profile of ISO 8601, the "date-time" format Swagger refers to.
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.strptime(value, "%Y-%m-%d"))


def _strict(node: object) -> None:
    """Forbid undeclared properties in every object schema that declares some."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


class Model:
    """One Swagger file: strict validators for its definitions and access to its operations."""

    def __init__(self, path: Path):
        self.swagger = json.loads(path.read_text(encoding="utf-8"))
        self.definitions = copy.deepcopy(self.swagger["definitions"])
        _strict(self.definitions)
        # The model's own examples all pass strict validation, so nothing had to be relaxed here.

    def validator(self, definition: str) -> Draft4Validator:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": self.definitions}
        return Draft4Validator(schema, format_checker=FORMATS)

    def check(self, definition: str, instance: object) -> None:
        errors = sorted(self.validator(definition).iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{definition} violations:\n" + "\n".join(
            f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:15])

    def operations(self):
        for methods in self.swagger["paths"].values():
            for operation in methods.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    yield operation


def _load_model(name: str) -> Model:
    path = MODELS / name
    if not path.is_file():
        message = f"Amazon SP-API model {name} not found in {MODELS} (set ORDERSYNC_SPAPI_MODELS)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Model(path)


@pytest.fixture(scope="module")
def orders_model() -> Model:
    return _load_model(ORDERS_MODEL)


@pytest.fixture(scope="module")
def v0_model() -> Model:
    return _load_model(V0_MODEL)


@pytest.fixture(scope="module")
def sandbox(orders_model):  # needs the models first: skip before starting a server
    # Many countries so every locale and currency (incl. zero-decimal JPY) passes through the model.
    with start_sandbox(seed=11, days=3, orders_per_day=8, countries="IT,FR,DE,ES,UK,NL,PL,SE,US,JP,BE") as running:
        yield running


@pytest.fixture(scope="module")
def api(sandbox):
    token = requests.post(sandbox.url + "/auth/o2/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token",
        "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}).json()["access_token"]
    session = requests.Session()
    session.headers["x-amz-access-token"] = token
    session.base = sandbox.url
    yield session
    session.close()


def _get(api, path: str, **params) -> requests.Response:
    return api.get(api.base + path, params=params, timeout=10)


def _all_pages(api, orders_model: Model, **params) -> list[dict]:
    orders, pages, token = [], 0, None
    while True:
        response = _get(api, SEARCH, **params, **({"paginationToken": token} if token else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        orders_model.check("SearchOrdersResponse", body)
        orders += body["orders"]
        pages += 1
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            assert pages > 1, "expected the results to span several pages"
            return orders


def test_search_pages_without_datasets_match_the_model(api, orders_model):
    orders = _all_pages(api, orders_model, createdAfter="2000-01-01T00:00:00Z", maxResultsPerPage=40)
    assert orders and all("buyer" not in o and "fulfillment" not in o for o in orders)


def test_search_pages_with_datasets_match_the_model(api, orders_model):
    orders = _all_pages(api, orders_model, createdAfter="2000-01-01T00:00:00Z", maxResultsPerPage=60,
                        includedData=ALL_DATASETS)
    assert all({"buyer", "recipient", "proceeds", "fulfillment"} <= set(o) for o in orders)
    assert {o["proceeds"]["grandTotal"]["currencyCode"] for o in orders} >= {"EUR", "GBP", "PLN", "SEK", "USD", "JPY"}


def test_packages_after_confirmation_match_the_model(api, sandbox, orders_model, v0_model):
    target = next(o for o in sandbox.get_admin("/orders")["orders"]
                  if (o["fulfillment"]["fulfilledBy"], o["fulfillment"]["fulfillmentStatus"])
                  == ("MERCHANT", "UNSHIPPED"))
    item = target["orderItems"][0]
    body = {"marketplaceId": target["salesChannel"]["marketplaceId"],
            "packageDetail": {"packageReferenceId": "1", "carrierCode": "Other", "carrierName": "BRT",
                              "shippingMethod": "Standard", "trackingNumber": "BRT0001",
                              "shipDate": "2026-01-01T10:00:00Z",
                              "orderItems": [{"orderItemId": item["orderItemId"], "quantity": 1}]}}
    v0_model.check("ConfirmShipmentRequest", body)
    response = api.post(f"{api.base}/orders/v0/orders/{target['orderId']}/shipmentConfirmation", json=body, timeout=10)
    assert response.status_code == 204, response.text
    assert response.content == b""
    sandbox.post_admin("/clock", {"advance_seconds": 180})  # past the two-minute safety margin
    orders = _all_pages(api, orders_model, lastUpdatedAfter="2000-01-01T00:00:00Z", maxResultsPerPage=50,
                        includedData=ALL_DATASETS + ",PACKAGES")
    confirmed = next(o for o in orders if o["orderId"] == target["orderId"])
    assert confirmed["packages"][-1]["trackingNumber"] == "BRT0001"


def test_get_order_matches_the_model(api, sandbox, orders_model):
    order_id = sandbox.get_admin("/orders")["orders"][0]["orderId"]
    for datasets in ("", ALL_DATASETS + ",PACKAGES"):
        response = _get(api, f"{SEARCH}/{order_id}", **({"includedData": datasets} if datasets else {}))
        assert response.status_code == 200, response.text
        orders_model.check("GetOrderResponse", response.json())


@pytest.mark.parametrize(("path", "params", "authorised", "status"), [
    (SEARCH, {"createdAfter": "not-a-date"}, True, 400),
    (SEARCH, {"createdAfter": "2025-01-01T00:00:00Z", "lastUpdatedAfter": "2025-01-01T00:00:00Z"}, True, 400),
    (SEARCH, {"createdAfter": "2025-01-01T00:00:00Z", "maxResultsPerPage": "500"}, True, 400),
    (SEARCH, {"createdAfter": "2025-01-01T00:00:00Z", "paginationToken": "garbage"}, True, 400),
    (SEARCH, {"createdAfter": "2025-01-01T00:00:00Z"}, False, 403),
    (SEARCH + "/999-0000000-0000000", {}, True, 404),
    (SEARCH + "/999-0000000-0000000", {}, False, 403),
])
def test_error_bodies_match_error_list(api, orders_model, path, params, authorised, status):
    headers = {} if authorised else {"x-amz-access-token": "Atza|forged"}
    response = api.get(api.base + path, params=params, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-amzn-RequestId"]
    orders_model.check("ErrorList", response.json())


def test_confirm_shipment_errors_match_the_model(api, sandbox, v0_model):
    order = next(o for o in sandbox.get_admin("/orders")["orders"] if o["fulfillment"]["fulfilledBy"] == "MERCHANT")
    url = f"{api.base}/orders/v0/orders/{order['orderId']}/shipmentConfirmation"
    line = {"orderItemId": order["orderItems"][0]["orderItemId"], "quantity": 1}
    bad_date = {"marketplaceId": order["salesChannel"]["marketplaceId"],
                "packageDetail": {"packageReferenceId": "7", "carrierCode": "DHL", "trackingNumber": "X1",
                                  "shipDate": "02/21/2022", "orderItems": [line]}}
    for response, status in [
        (api.post(url, json=bad_date, timeout=10), 400),
        (api.post(url, json={"marketplaceId": "APJ6JRA9NG5V4"}, timeout=10), 400),
        (api.post(url.replace(order["orderId"], "999-0000000-0000000"), json=bad_date, timeout=10), 404),
        (api.post(url, json=bad_date, headers={"x-amz-access-token": "nope"}, timeout=10), 403),
    ]:
        assert response.status_code == status, response.text
        v0_model.check("ConfirmShipmentErrorResponse", response.json())


def test_strict_validator_rejects_undeclared_fields(orders_model):
    order = {"orderId": "405-1234567-1234567", "createdTime": "2026-01-01T00:00:00Z",
             "lastUpdatedTime": "2026-01-01T00:00:00Z", "salesChannel": {"channelName": "AMAZON"},
             "orderItems": [{"orderItemId": "12345678901234", "quantityOrdered": 1, "product": {"sellerSku": "X"}}]}
    orders_model.check("Order", order)
    for broken in ({**order, "orderStatus": "UNSHIPPED"},
                   {**order, "orderItems": [{**order["orderItems"][0], "product": {"sku": "X"}}]},
                   {**order, "createdTime": "2026-01-01 00:00"}):
        with pytest.raises(AssertionError):
            orders_model.check("Order", broken)


def _examples(response: dict) -> list[tuple[dict, object]]:
    found = [({}, body) for body in response.get("examples", {}).values()]
    for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
        found.append((case.get("request", {}).get("parameters", {}), case.get("response")))
    return found


def test_model_examples_pass_the_strict_validator(orders_model, v0_model):
    """Guards the validator itself: Amazon's own examples must be accepted as they are."""
    checked = 0
    for model, operations in ((orders_model, {"searchOrders", "getOrder"}), (v0_model, {"confirmShipment"})):
        for operation in model.operations():
            if operation["operationId"] not in operations:
                continue
            for status, response in operation["responses"].items():
                for request, body in _examples(response):
                    if "schema" in response:
                        model.check(response["schema"]["$ref"].rsplit("/", 1)[1], body)
                        checked += 1
                    payload = request.get("body", {}).get("value")
                    if payload is not None:  # confirmShipment sandbox cases carry the request body
                        errors = list(model.validator("ConfirmShipmentRequest").iter_errors(payload))
                        # Amazon's 400 case sends shipDate "02/21/2022": our validator must reject it too.
                        assert bool(errors) == (status == "400"), [e.message for e in errors]
                        checked += 1
    assert checked >= 10
