"""Cdiscount through Octopia's seller API v2, as the sandbox plays it (under ``/octopia``).

Built on the shapes of ``shared/reference/octopia/README.md`` and nothing more:

- ``POST /octopia/auth/token`` (form-encoded client credentials, 2 h tokens), then with
  ``Authorization: Bearer`` and ``SellerId`` on every call;
- ``GET /orders``: ``status``, ``createdAtMin/Max``, ``updatedAtMin/Max`` (minimum included,
  maximum excluded), ``pageIndex`` (from 1 here; the reference does not say), ``pageSize``
  (1..100), ``salesChannelId``, ``supplyMode``, ``reference``, ``sort`` (``asc|desc:<field>``).
  Answers ``{"itemsPerPage", "items"}`` with no total; a ``Link: <...>; rel="next"`` header
  when another page follows;
- ``GET /orders/{orderId}``; ``POST /orders/{orderId}/approval-status``
  (``{"approval_status": "Accepted" | "Refused"}``); ``POST /orders/{orderId}/shipments`` (a JSON
  array of parcels, recorded on the order's lines; seller-shipped lines only; a parcel number
  already declared on the order is a 409);
- errors are ``application/problem+json`` with ``title``, ``detail`` and an ``errors`` object.

The seeded world holds, besides the accept-first life shared with Lengow, a few orders shipped
by Cdiscount's own warehouse (``supplyMode`` Fulfillment), one mixing seller and Xdock lines,
orders of another Octopia sales channel, and orders still ``Processing``. Admin routes under
``/_admin/cdiscount`` (see :func:`ordersync.sandbox.acceptfirst.admin_router`); there a crafted
order takes ``salesChannelId`` and per-line ``supplyMode`` too.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ordersync.sandbox.acceptfirst import STATUSES, AcceptFirstWorld, SandboxError, admin_router
from ordersync.sandbox.catalog import CATALOG
from ordersync.sandbox.world import iso, parse_time

WIRE_STATUS = {
    "processing": "Processing", "waiting": "WaitingAcceptance", "accepted": "Accepted", "importable": "InPreparation",
    "shipped": "Shipped", "delivered": "Delivered", "cancelled": "Cancelled", "refused": "Refused", "rejected": "Rejected",
}
CDISCOUNT = "SCID01"  # the sample order's sales channel (see ordersync.config.CDISCOUNT_SALES_CHANNEL)
OTHER_CHANNEL = "SCXX01"  # a made-up second sales channel of the same seller account
CHANNEL_NAMES = {CDISCOUNT: "Cdiscount", OTHER_CHANNEL: "Other sales channel (sandbox)"}
SUPPLY_MODES = ("Seller", "Fulfillment", "Xdock")
SORT_FIELDS = {"updatedAt": "updated", "createdAt": "created", "purchasedAt": "created"}
PARCEL_KEYS = {"parcelNumber", "carrierName", "trackingUrl", "orderLineIds"}
EANS = {p.sku: p.ean for p in CATALOG}
PURCHASE_LEAD = timedelta(seconds=45)  # the buyer paid this long before Octopia created the record
SHIP_WITHIN = timedelta(days=2)


@dataclass(frozen=True)
class OctopiaCredentials:
    client_id: str = "sandbox-octopia-client"
    client_secret: str = "sandbox-octopia-secret"
    seller_id: str = "123456"


class Problem(SandboxError):
    """An error answered as ``application/problem+json``: ``title``, ``detail``, ``errors``."""

    def __init__(self, status: int, title: str, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(status, title, detail)
        self.errors = errors or {}


class CdiscountWorld(AcceptFirstWorld):
    channel = "cdiscount"
    statuses = (*STATUSES, "processing", "delivered", "rejected")

    def groups(self) -> list[str | None]:
        return [CDISCOUNT]  # an order's group is its Octopia sales channel

    def new_id(self, index: int) -> str:
        return f"{CDISCOUNT}{self.anchor:%y%m%d}{index:04d}CD{self._rng.randrange(10**4):04d}"

    def _generate(self) -> list[dict]:
        """The shared seeded life, then a few orders only Octopia has (deterministic picks)."""
        out = super()._generate()
        rng = self._rng
        pool = [o for o in out if o["bad"] is None]
        for order in out:
            order["reference"] = order["id"].removeprefix(CDISCOUNT)

        def take(statuses: tuple[str, ...], count: int, multi_line: bool = False) -> list[dict]:
            found = [o for o in pool if o["status"] in statuses and (len(o["lines"]) > 1 or not multi_line)]
            chosen = rng.sample(found, min(count, len(found)))
            for order in chosen:
                pool.remove(order)
            return chosen

        for order in take(("shipped",), 1) + take(("importable",), 1):
            for line in order["lines"]:  # Cdiscount ships it from its warehouse
                line["supply"] = "Fulfillment"
        for order in take(("importable",), 1, multi_line=True):
            order["lines"][-1]["supply"] = "Xdock"  # mixed: not supported, set aside by import
        for order in take(("waiting",), 1) + take(("importable",), 1):
            order["group"], order["id"] = OTHER_CHANNEL, OTHER_CHANNEL + order["reference"]
            for n, line in enumerate(order["lines"]):
                line["id"] = f"{order['id']}-{n + 1}"
        for order in take(("waiting",), 1):
            order["status"] = "processing"
        return out

    def add_order(self, spec: dict) -> dict:
        """Also ``salesChannelId`` (default SCID01) and per line ``supplyMode`` (default Seller)."""
        spec = dict(spec)
        if spec.get("salesChannelId"):
            spec["group"] = spec.pop("salesChannelId")
        modes = [line.get("supplyMode") for line in spec.get("lines") or []]
        if any(mode not in (None, *SUPPLY_MODES) for mode in modes):
            raise ValueError(f"supplyMode must be one of {', '.join(SUPPLY_MODES)}")
        created = super().add_order(spec)
        with self._lock:
            order = self._orders[created["id"]]
            for line, mode in zip(order["lines"], modes, strict=True):
                if mode:
                    line["supply"] = mode
            return copy.deepcopy(order)

    def ship(self, order_id: str, parcel: dict, record: dict) -> dict:
        """Only seller-shipped lines go in a parcel: the marketplace ships the others itself."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is not None:
                theirs = [line["id"] for line in order["lines"]
                          if line["id"] in (parcel.get("lines") or []) and line.get("supply", "Seller") != "Seller"]
                if theirs:
                    message = f"lines {theirs} are not shipped by the seller (supplyMode is not Seller)"
                    self._actions.append({"order_id": order_id, "at": self.now(), **record, "accepted": False, "error": message})
                    raise Problem(400, "Bad Request", message, {"orderLineIds": [message]})
            return super().ship(order_id, parcel, record)


def _address(order: dict) -> dict:
    buyer, address = order["buyer"], order["address"]
    return {"firstName": buyer["first"], "lastName": buyer["last"], "addressLine1": address["street"], "addressLine2": None,
            "postalCode": address["zipcode"], "city": address["city"], "countryCode": "FR", "phone": address["phone"]}


def render(order: dict) -> dict:
    """The neutral sandbox order as Octopia's order resource: the reference's fields only."""
    status = "UnderReview" if order["bad"] == "unknown_status" else WIRE_STATUS[order["status"]]
    parcels_sent = order["shipments"]
    lines = []
    for n, line in enumerate(order["lines"]):
        supply = line.get("supply", "Seller")
        parcels = [
            {"parcelNumber": s["tracking"], "carrierName": s.get("carrier"), "trackingUrl": s.get("url")}
            for s in parcels_sent if line["id"] in (s.get("lines") or [])
        ]
        # in a shipped order, a seller line no parcel named is still being prepared
        in_preparation = status == "Shipped" and supply == "Seller" and parcels_sent and not parcels
        offer = {"sellerProductId": line["sku"], "supplyMode": supply}
        if line["sku"] in EANS:
            offer = {"sellerProductId": line["sku"], "productId": EANS[line["sku"]], "supplyMode": supply}
        lines.append({
            "lineId": line["id"],
            "status": "InPreparation" if in_preparation else status,
            "offer": offer,
            "quantity": line["quantity"],
            # the line's total (quantity x unit price), as the channel reads it
            "totalPrice": {"sellingPrice": str((Decimal(line["price"]) * line["quantity"]).quantize(Decimal("0.01"))),
                           "shippingCost": "4.90" if n == 0 else "0.00"},
            "shippingAddress": _address(order),
            "parcels": parcels,
        })
    group = order.get("group") or CDISCOUNT
    buyer = order["buyer"]
    return {
        "orderId": order["id"],
        "reference": order.get("reference") or order["id"],
        "businessOrder": False,
        "salesChannel": {"id": group, "name": CHANNEL_NAMES.get(group, group)},
        "seller": {"id": OctopiaCredentials.seller_id},
        "customer": {"reference": "CU" + hashlib.sha256(buyer["email"].encode()).hexdigest()[:10].upper()},
        "purchasedAt": iso(order["created"] - PURCHASE_LEAD),
        "createdAt": iso(order["created"]),
        "updatedAt": iso(order["updated"]),
        "shippedAtMax": iso(order["created"] + SHIP_WITHIN),
        "status": status,
        "payment": {"method": "Card"},
        "currencyCode": "EUR",
        "billingAddress": {"civility": "MR", **_address(order), "companyName": None, "email": buyer["email"]},
        "lines": lines,
    }


class ProblemRoute(APIRoute):
    """Routes whose errors are answered the Octopia way (problem+json)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except Problem as exc:
                return problem(exc.status, exc.code, exc.message, exc.errors)
            except SandboxError as exc:
                return problem(exc.status, exc.code, exc.message)

        return route


def problem(status: int, title: str, detail: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
    return JSONResponse({"title": title, "detail": detail, "errors": errors or {}}, status_code=status,
                        media_type="application/problem+json")


router = APIRouter(route_class=ProblemRoute)


def _world(request: Request) -> CdiscountWorld:
    return request.app.state.cdiscount


def _authorize(request: Request, operation: str) -> None:
    world, creds = _world(request), request.app.state.octopia_credentials
    auth = request.headers.get("authorization", "")
    state = world.token_state(auth[7:] if auth.lower().startswith("bearer ") else None)
    if state != "valid":
        raise Problem(401, "Unauthorized", f"access token {state}")
    if request.headers.get("sellerid") != creds.seller_id:
        raise Problem(403, "Forbidden", "SellerId header missing or not linked to this client")
    world.count(operation)


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Problem(400, "Bad Request", "the body is not JSON") from None


@router.post("/octopia/auth/token")
async def token(request: Request):
    world, creds = _world(request), request.app.state.octopia_credentials
    world.count("token")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if form.get("client_id") != creds.client_id or form.get("client_secret") != creds.client_secret:
        return JSONResponse({"error": "invalid_client", "error_description": "bad client id or secret"}, status_code=401)
    return {"access_token": world.issue_token(), "token_type": "Bearer", "expires_in": world.token_lifetime,
            "refresh_token": world.issue_token(), "refresh_expires_in": world.token_lifetime}


def _range(params, name: str) -> tuple[datetime | None, datetime | None]:
    low, high = params.get(f"{name}Min"), params.get(f"{name}Max")
    try:
        return (parse_time(low) if low else None, parse_time(high) if high else None)
    except ValueError:
        message = f"{name}Min and {name}Max must be ISO 8601 dates"
        raise Problem(400, "Bad Request", message, {f"{name}Min": [message], f"{name}Max": [message]}) from None


def _within(moment: datetime, bounds: tuple[datetime | None, datetime | None]) -> bool:
    return (bounds[0] is None or moment >= bounds[0]) and (bounds[1] is None or moment < bounds[1])


@router.get("/octopia/orders")
def list_orders(request: Request):
    _authorize(request, "getOrders")
    params = request.query_params
    try:
        index, size = int(params.get("pageIndex", 1)), int(params.get("pageSize", 50))
    except ValueError:
        raise Problem(400, "Bad Request", "pageIndex and pageSize are integers", {"pageIndex": ["integer"], "pageSize": ["integer"]}) from None
    if index < 1:
        raise Problem(400, "Bad Request", "pageIndex must be 1 or more", {"pageIndex": ["must be 1 or more"]})
    if not 1 <= size <= 100:
        raise Problem(400, "Bad Request", "pageSize must be between 1 and 100", {"pageSize": ["must be between 1 and 100"]})
    direction, _, field = (params.get("sort") or "asc:updatedAt").partition(":")
    if direction not in ("asc", "desc") or field not in SORT_FIELDS:
        hint = f"sort is asc or desc, a colon and one of {', '.join(SORT_FIELDS)}"
        raise Problem(400, "Bad Request", hint, {"sort": [hint]})
    statuses = set(params.getlist("status"))
    created, updated = _range(params, "createdAt"), _range(params, "updatedAt")
    channel, supply, reference = params.get("salesChannelId"), params.get("supplyMode"), params.get("reference")
    world = _world(request)
    now = world.now()
    found = []
    for order in world.all_orders():
        if order["created"] > now or not _within(order["created"], created) or not _within(order["updated"], updated):
            continue
        wire = render(order)
        if statuses and wire["status"] not in statuses:
            continue
        if channel and wire["salesChannel"]["id"] != channel:
            continue
        if supply and all(line["offer"]["supplyMode"] != supply for line in wire["lines"]):
            continue
        if reference and wire["reference"] != reference:
            continue
        found.append((order[SORT_FIELDS[field]], order["id"], wire))
    found.sort(key=lambda item: (item[0], item[1]), reverse=direction == "desc")
    page = [wire for _, _, wire in found[(index - 1) * size: index * size]]
    response = JSONResponse({"itemsPerPage": size, "items": page})
    if index * size < len(found):
        response.headers["Link"] = f'<{request.url.include_query_params(pageIndex=index + 1)}>; rel="next"'
    return response


@router.get("/octopia/orders/{order_id}")
def get_order(order_id: str, request: Request):
    _authorize(request, "getOrder")
    order = _world(request).find(order_id)
    if order is None:
        raise Problem(404, "Not Found", f"order {order_id} not found")
    return render(order)


@router.post("/octopia/orders/{order_id}/approval-status")
async def approval(order_id: str, request: Request):
    _authorize(request, "approval")
    body = await _body(request)
    if not isinstance(body, dict) or set(body) != {"approval_status"} or body["approval_status"] not in ("Accepted", "Refused"):
        message = 'the body is {"approval_status": "Accepted" | "Refused"} and nothing else'
        raise Problem(400, "Bad Request", message, {"approval_status": [message]})
    status = body["approval_status"]
    order = _world(request).answer(order_id, status == "Accepted", {"operation": "approval", "approval_status": status})
    _world(request).lose_answer("approval")
    return render(order)


def _parcel_errors(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, list) or not body:
        return {"body": ["expected a non-empty JSON array of parcels"]}
    errors: dict[str, list[str]] = {}
    for i, parcel in enumerate(body):
        where = f"[{i}]"
        if not isinstance(parcel, dict):
            errors[where] = ["expected an object"]
            continue
        unknown = sorted(set(parcel) - PARCEL_KEYS)
        if unknown:
            errors[f"{where}"] = [f"unknown fields {unknown}"]
        for key in ("parcelNumber", "carrierName"):
            if not isinstance(parcel.get(key), str) or not parcel[key]:
                errors[f"{where}.{key}"] = ["is required"]
        lines = parcel.get("orderLineIds")
        if not isinstance(lines, list) or not lines or not all(isinstance(x, str) and x for x in lines):
            errors[f"{where}.orderLineIds"] = ["a non-empty array of order line ids is required"]
    return errors


@router.post("/octopia/orders/{order_id}/shipments")
async def shipments(order_id: str, request: Request):
    _authorize(request, "shipments")
    body = await _body(request)
    errors = _parcel_errors(body)
    if errors:
        raise Problem(400, "Bad Request", "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()), errors)
    world = _world(request)
    existing = world.find(order_id)
    if existing is not None:
        known = {s["tracking"] for s in existing["shipments"]}
        again = [p["parcelNumber"] for p in body if p["parcelNumber"] in known]
        if again:
            raise Problem(409, "Conflict", f"parcel {again[0]} of order {order_id} is already declared")
    order = existing
    for parcel in body:
        neutral = {"tracking": parcel["parcelNumber"], "carrier": parcel["carrierName"], "url": parcel.get("trackingUrl"),
                   "lines": list(parcel["orderLineIds"])}
        order = world.ship(order_id, neutral, {"operation": "shipment", **parcel})
    if order is None:  # no parcel and no such order: _parcel_errors refuses an empty array
        raise Problem(404, "Not Found", f"order {order_id} not found")
    world.lose_answer("shipments")
    return JSONResponse(render(order), status_code=201)


# -- admin: the shared accept-first controls under /_admin/cdiscount -------------------------

admin = admin_router("cdiscount", _world, render)
