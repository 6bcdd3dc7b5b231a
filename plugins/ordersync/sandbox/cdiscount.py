"""Cdiscount through Octopia's seller API v2, as the sandbox plays it (under ``/octopia``).

``POST /octopia/auth/token`` (client credentials, 2 h tokens), then with ``Authorization: Bearer``
and ``SellerId``: ``GET /orders`` (``status``, ``createdAtMin/Max``, ``updatedAtMin/Max``,
``pageIndex``, ``pageSize``), ``GET /orders/{orderId}``, ``POST /orders/{orderId}/approval-status``
(``{"status": "Accepted" | "Refused"}``) and ``POST /orders/{orderId}/shipments``. Admin routes
under ``/_admin/cdiscount``. Field names are the sandbox's reading of the issue (the public
reference was not reachable): see :mod:`ordersync.channels.cdiscount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ordersync.sandbox.acceptfirst import AcceptFirstWorld, SandboxError, admin_router
from ordersync.sandbox.world import iso, parse_time

WIRE_STATUS = {
    "waiting": "WaitingAcceptance", "accepted": "Accepted", "importable": "InPreparation",
    "shipped": "Shipped", "cancelled": "Cancelled", "refused": "Refused",
}


@dataclass(frozen=True)
class OctopiaCredentials:
    client_id: str = "sandbox-octopia-client"
    client_secret: str = "sandbox-octopia-secret"
    seller_id: str = "123456"


class CdiscountWorld(AcceptFirstWorld):
    channel = "cdiscount"

    def new_id(self, index: int) -> str:
        return f"{self.anchor:%y%m%d}{index:04d}CD{self._rng.randrange(10**4):04d}"


def render(order: dict) -> dict:
    """The neutral sandbox order as Octopia's order resource."""
    lines = [
        {"orderLineId": line["id"], "sellerProductId": line["sku"], "productTitle": line["title"],
         "quantity": line["quantity"], "unitPrice": line["price"],
         "status": "Shipped" if order["status"] == "shipped" else WIRE_STATUS[order["status"]]}
        for line in order["lines"]
    ]
    total = sum((Decimal(line["price"]) * line["quantity"] for line in order["lines"]), Decimal("0"))
    wire = {
        "orderId": order["id"],
        "status": WIRE_STATUS[order["status"]],
        "createdAt": iso(order["created"]),
        "updatedAt": iso(order["updated"]),
        "currency": "EUR",
        "totalAmount": str(total.quantize(Decimal("0.01"))),
        "shippingMode": "Standard",
        "customer": {"firstName": order["buyer"]["first"], "lastName": order["buyer"]["last"],
                     "email": order["buyer"]["email"]},
        "shippingAddress": {"firstName": order["buyer"]["first"], "lastName": order["buyer"]["last"],
                            "street": order["address"]["street"], "city": order["address"]["city"],
                            "zipCode": order["address"]["zipcode"], "countryCode": "FR",
                            "phone": order["address"]["phone"]},
        "lines": lines,
        "shipments": [
            {"externalReference": s.get("ref"), "parcelNumber": s["tracking"], "carrierName": s.get("carrier"),
             "trackingUrl": s.get("url"), "orderLineIds": s.get("lines"), "createdAt": iso(s["at"])}
            for s in order["shipments"]
        ],
    }
    if order["bad"] == "unknown_status":
        wire["status"] = "UnderReview"
    return wire


router = APIRouter()


def _world(request: Request) -> CdiscountWorld:
    return request.app.state.cdiscount


def _authorize(request: Request, operation: str) -> None:
    world, creds = _world(request), request.app.state.octopia_credentials
    auth = request.headers.get("authorization", "")
    state = world.token_state(auth[7:] if auth.lower().startswith("bearer ") else None)
    if state != "valid":
        raise SandboxError(401, "Unauthorized", f"access token {state}")
    if request.headers.get("sellerid") != creds.seller_id:
        raise SandboxError(403, "Forbidden", "SellerId header missing or not linked to this client")
    world.count(operation)


@router.post("/octopia/auth/token")
async def token(request: Request):
    world, creds = _world(request), request.app.state.octopia_credentials
    world.count("token")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if form.get("client_id") != creds.client_id or form.get("client_secret") != creds.client_secret:
        return JSONResponse({"error": "invalid_client", "error_description": "bad client id or secret"}, status_code=401)
    return {"access_token": world.issue_token(), "token_type": "Bearer", "expires_in": world.token_lifetime}


def _range(params, name: str) -> tuple[datetime | None, datetime | None]:
    low, high = params.get(f"{name}Min"), params.get(f"{name}Max")
    try:
        return (parse_time(low) if low else None, parse_time(high) if high else None)
    except ValueError:
        raise SandboxError(400, "InvalidInput", f"{name}Min/{name}Max must be ISO 8601 dates") from None


@router.get("/octopia/orders")
def list_orders(request: Request):
    _authorize(request, "getOrders")
    params = request.query_params
    try:
        index, size = int(params.get("pageIndex", 1)), int(params.get("pageSize", 50))
    except ValueError:
        raise SandboxError(400, "InvalidInput", "pageIndex and pageSize are integers") from None
    if index < 1 or not 1 <= size <= 100:
        raise SandboxError(400, "InvalidInput", "pageIndex >= 1 and 1 <= pageSize <= 100")
    statuses = set(params.getlist("status"))
    created, updated = _range(params, "createdAt"), _range(params, "updatedAt")
    now = _world(request).now()
    found = []
    for order in _world(request).all_orders():
        if order["created"] > now:
            continue
        wire = render(order)
        if statuses and wire["status"] not in statuses:
            continue
        if (created[0] and order["created"] < created[0]) or (created[1] and order["created"] >= created[1]):
            continue
        if (updated[0] and order["updated"] < updated[0]) or (updated[1] and order["updated"] >= updated[1]):
            continue
        found.append(wire)
    page = found[(index - 1) * size: index * size]
    return {"items": page, "pageIndex": index, "pageSize": size, "totalCount": len(found)}


@router.get("/octopia/orders/{order_id}")
def get_order(order_id: str, request: Request):
    _authorize(request, "getOrder")
    order = _world(request).find(order_id)
    if order is None:
        raise SandboxError(404, "NotFound", f"order {order_id} not found")
    return render(order)


@router.post("/octopia/orders/{order_id}/approval-status")
async def approval(order_id: str, request: Request):
    _authorize(request, "approval")
    body = await request.json()
    status = (body or {}).get("status")
    if status not in ("Accepted", "Refused"):
        raise SandboxError(400, "InvalidInput", "status must be Accepted or Refused")
    order = _world(request).answer(order_id, status == "Accepted", {"operation": "approval", "status": status})
    _world(request).lose_answer("approval")
    return render(order)


@router.post("/octopia/orders/{order_id}/shipments")
async def shipments(order_id: str, request: Request):
    _authorize(request, "shipments")
    body = await request.json() or {}
    parcel = {"ref": body.get("externalReference"), "tracking": body.get("parcelNumber"),
              "carrier": body.get("carrierName"), "url": body.get("trackingUrl"), "lines": body.get("orderLineIds") or []}
    if not parcel["carrier"]:
        raise SandboxError(400, "InvalidInput", "carrierName is required")
    world = _world(request)
    existing = world.find(order_id)
    if existing and parcel["ref"] and any(s.get("ref") == parcel["ref"] for s in existing["shipments"]):
        raise SandboxError(409, "DuplicateParcel", f"parcel {parcel['ref']} of order {order_id} is already declared")
    order = world.ship(order_id, parcel, {"operation": "shipment", **parcel})
    world.lose_answer("shipments")
    return JSONResponse(render(order), status_code=201)


# -- admin: the shared accept-first controls under /_admin/cdiscount -------------------------

admin = admin_router("cdiscount", _world, render)
