"""The Amazon adapter against Amazon's published models: what it reads and what it sends.

Every order example of the v2026-01-01 model parses into a MarketplaceOrder; every request the
adapter builds (searchOrders listings: normal, FBA, onboarding, resumed; getOrder; confirmShipment)
uses only the model's parameter names, enum values and formats.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ordersync.channels.amazon import AmazonChannel
from ordersync.errors import MarketplaceRequestError
from ordersync.model import Fulfillment, MarketplaceOrder, OrderStatus, Shipment, Window
from tests.contract.test_sandbox_amazon_model import _examples, orders_model, v0_model  # noqa: F401

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class _Response:
    def __init__(self, body: dict):
        self._body = body

    def json(self) -> dict:
        return self._body


class RecordingHook:
    """Stands in for AmazonSpApiHook: records calls and serves canned pages."""

    def __init__(self, pages: list[dict] | None = None, fail_with: Exception | None = None):
        self.calls: list[tuple[str, str, dict, Any, str | None]] = []
        self.pages = list(pages or [{"orders": []}])
        self.fail_with = fail_with

    def call(self, method, endpoint, *, params=None, json=None, operation=None):
        self.calls.append((method, endpoint, dict(params or {}), json, operation))
        if self.fail_with is not None and "paginationToken" in (params or {}):
            error, self.fail_with = self.fail_with, None
            raise error
        return _Response(self.pages.pop(0) if self.pages else {"orders": []})

    def send_once(self, method, endpoint, *, already_done, **kwargs):
        self.call(method, endpoint, **kwargs)


def _operation(model, operation_id: str) -> dict:
    return next(op for op in model.operations() if op["operationId"] == operation_id)


def _check_query(model, operation_id: str, params: dict) -> None:
    declared = {p["name"]: p for p in _operation(model, operation_id)["parameters"] if p["in"] == "query"}
    for name, value in params.items():
        assert name in declared, f"{operation_id}: {name} is not a parameter of the model"
        spec = declared[name]
        if spec["type"] == "array":
            values = str(value).split(",")  # collectionFormat csv
            assert spec.get("collectionFormat", "csv") == "csv"
            for item in values:
                if "enum" in spec["items"]:
                    assert item in spec["items"]["enum"], f"{name}: {item} not in the model's enum"
        elif spec["type"] == "integer":
            assert isinstance(value, int)
            assert spec.get("minimum", value) <= value <= spec.get("maximum", value)
        elif spec.get("format") == "date-time":
            assert _ISO.match(value), f"{name}: {value} is not an ISO 8601 date-time"


def _order(order_id: str, updated: str) -> dict:
    return {"orderId": order_id, "createdTime": updated, "lastUpdatedTime": updated,
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
            "orderItems": [{"orderItemId": "1", "quantityOrdered": 1}]}


def test_every_order_example_parses(orders_model):  # noqa: F811
    channel = AmazonChannel(hook=None, country="US")
    parsed: list[MarketplaceOrder] = []
    for operation_id in ("searchOrders", "getOrder"):
        for status, response in _operation(orders_model, operation_id)["responses"].items():
            if status != "200":
                continue
            for _, body in _examples(response):
                orders = body.get("orders") if "orders" in body else [body.get("order")]
                for raw in orders or []:
                    order = channel.parse(raw)
                    staged = channel.stage(raw)
                    assert staged.order_id == order.order_id
                    assert order.lines and all(line.quantity >= 0 for line in order.lines)
                    assert order.status is not OrderStatus.OTHER or order.raw_status == "UNFULFILLABLE"
                    assert isinstance(order.total, Decimal)
                    parsed.append(order)
    assert parsed, "the model has no order examples"
    # what the import layer needs is there
    for order in parsed:
        assert order.purchase_date.tzinfo is not None and order.last_updated >= order.purchase_date
        assert order.fulfillment in (Fulfillment.MERCHANT, Fulfillment.MARKETPLACE)


def test_search_requests_use_the_model_parameters(orders_model):  # noqa: F811
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    window = Window(now - timedelta(hours=1), now - timedelta(minutes=5))
    page1 = {"orders": [_order("A", "2026-03-02T11:10:00Z")], "pagination": {"nextToken": "t1"}}
    page2 = {"orders": [_order("B", "2026-03-02T11:20:00Z")], "pagination": {"nextToken": "t2"}}
    expired = MarketplaceRequestError(400, "InvalidInput", "The paginationToken has expired.")
    hook = RecordingHook([page1, page2, {"orders": []}], fail_with=expired)
    channel = AmazonChannel(hook, "IT", page_size=50)
    list(channel.pages(window))
    list(channel.pages(window, fulfilment=Fulfillment.MARKETPLACE))
    list(channel.open_pages(window.start))
    assert channel.restarts == 1
    for method, endpoint, params, body, operation in hook.calls:
        assert (method, endpoint, body, operation) == ("GET", "/orders/2026-01-01/orders", None, "searchOrders")
        _check_query(orders_model, "searchOrders", params)
        assert ("createdAfter" in params) != ("lastUpdatedAfter" in params)
        assert not ("createdAfter" in params and "lastUpdatedBefore" in params)
    # the restart after the expired token resumes from the last order received, without a token
    restart = hook.calls[2][2]
    assert "paginationToken" not in restart and restart["lastUpdatedAfter"] == "2026-03-02T11:10:00Z"
    assert hook.calls[-2][2]["fulfilledBy"] == "AMAZON"
    onboarding = hook.calls[-1][2]
    assert onboarding["fulfillmentStatuses"] == "UNSHIPPED,PARTIALLY_SHIPPED" and "createdBefore" not in onboarding


def test_get_order_and_confirm_shipment_requests_match_the_models(orders_model, v0_model):  # noqa: F811
    hook = RecordingHook([{"order": {"orderId": "X", "packages": []}}, {}])
    channel = AmazonChannel(hook, "FR")
    probe = Shipment(order_id="402-1234567-1234567", package_ref="1", carrier="Other", tracking_number="T",
                     ship_date=datetime(2026, 3, 2, tzinfo=UTC))
    assert channel.package_confirmed(probe) is False
    _check_query(orders_model, "getOrder", hook.calls[0][2])
    assert hook.calls[0][4] == "getOrder"
    shipment = Shipment(order_id="402-1234567-1234567", package_ref="2", carrier="Other", tracking_number="TRK",
                        ship_date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), items=(("111", 1), ("222", 2)),
                        shipping_method="Express")
    channel.confirm_shipment(shipment, "Other", "Poste")
    method, endpoint, params, body, operation = hook.calls[1]
    assert (method, endpoint, operation) == ("POST", "/orders/v0/orders/402-1234567-1234567/shipmentConfirmation",
                                             "confirmShipment")
    v0_model.check("ConfirmShipmentRequest", body)
    assert body["packageDetail"]["carrierName"] == "Poste" and body["packageDetail"]["shippingMethod"] == "Express"


@pytest.mark.parametrize("status", ["PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "CANCELLED", "SHIPPED"])
def test_statuses_the_import_layer_acts_on(status):
    raw = _order("C", "2026-03-02T11:20:00Z")
    raw["fulfillment"]["fulfillmentStatus"] = status
    assert AmazonChannel(None, "IT").parse(raw).status is OrderStatus(status)
