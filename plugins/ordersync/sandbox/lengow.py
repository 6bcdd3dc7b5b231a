"""Lengow API v3 as the sandbox plays it (under ``/lengow``): one account, several marketplaces.

Shapes follow the real payloads kept in ``shared/reference/lengow`` (Lengow's plugin fixtures and
OpenAPI):

- ``POST /lengow/access/get_token`` (form ``access_token`` + ``secret``) answers ``account_id``
  and ``token`` only; later calls send ``Authorization: <token>``. An expired token answers
  **403**, an unknown one 401; every error is ``{"error": {"code", "message"}}``.
- ``GET /v3.0/orders`` (``account_id``, ``marketplace``, ``marketplace_order_id``,
  ``lengow_status``, ``updated_from``/``_to``, ``marketplace_order_date_from``/``_to``, ``page``,
  ``page_size`` <= 100) answers ``count``/``next``/``previous``/``results``; with no date filter
  only the last 7 days of updates are listed (what Lengow is reported to do). Orders have the
  reference order's keys (``order_types`` only on marketplace-fulfilled ones); some have no
  ``marketplace_order_date``, some lines no ``merchant_product_id.id`` (the SKU is then the
  ``marketplace_product_id``), one has ``total_order: -1``, some are ``new``.
- ``GET /v3.0/marketplaces``: per marketplace the statuses, carriers and, per action, ``args``
  (required), ``optional_args`` and the order statuses it applies to. ``amazon_fr`` ships one
  line per action (``line`` required, a carrier code required); ``cdiscount`` ships whole orders
  and has no cancel action.
- ``POST /v3.0/orders/actions/`` (JSON or form-encoded) checks the marketplace's rules and queues
  the action; ``GET /v3.0/orders/actions/`` lists rows shaped like the reference's. The
  marketplace acknowledges an action after ``ack_delay`` (``processed: true``); for orders flagged
  ``no_ack`` it never does, and after ``ack_timeout`` the action carries an ``errors`` message.

Tokens age on the shared sandbox clock, not on a clock pinned by the simulation: pinning plays
past order days, it does not make a client's session older.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ordersync.sandbox.acceptfirst import SandboxError, admin_router
from ordersync.sandbox.catalog import CATALOG
from ordersync.sandbox.lengow_world import (
    MARKETPLACES,
    _number,
    COUNTRY_OF,
    CURRENCY,
    DEFAULT_WINDOW,
    LengowCredentials,
    LengowWorld,
    MAX_PAGE_SIZE,
    SHIP_KEYS,
    WIRE_STATUS,
    WORKFLOW_RANK,
)
from ordersync.sandbox.world import iso, parse_time


# -- rendering ---------------------------------------------------------------------------------


def _catalog_product(sku: str):
    return next((p for p in CATALOG if p.sku == sku), None)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _address(order: dict, kind: str) -> dict:
    buyer, address = order["buyer"], order["address"]
    body = {
        "id": _number(f"{order['id']}:{kind}"),
        "type": kind,
        "company": None,
        "civility": None,
        "first_name": buyer["first"],
        "last_name": buyer["last"],
        "first_line": address["street"],
        "second_line": None,
        "complement": None,
        "zipcode": address["zipcode"],
        "city": address["city"],
        "phone_home": None,
        "phone_office": None,
        "phone_mobile": address["phone"],
        "full_address": None,
        "email": buyer["email"] if kind == "billing" else None,
        "common_country_iso_a2": "FR",
    }
    if kind == "delivery":
        body["trackings"] = []
    return body


def render(order: dict) -> dict:  # long by nature: every key of the reference order, in its order
    """The neutral sandbox order as a Lengow ``GET /v3.0/orders`` result."""
    status = WIRE_STATUS[order["status"]]
    if order["bad"] == "unknown_status":
        status = "on_hold_mystery"
    marketplace = MARKETPLACES.get(order["group"], MARKETPLACES["cdiscount"])
    words = marketplace["orders"]["status"]
    cart = []
    for line in order["lines"]:
        product = _catalog_product(line["sku"])
        line_status = line.get("status") or status
        merchant: dict[str, str | None]
        if line.get("sku_in_product_id", order.get("sku_in_product_id")):
            product_id, merchant = line["sku"], {"field": None, "id": None}
        else:
            own = (product.asin if order["group"].startswith("amazon") else product.ean) if product else None
            product_id, merchant = own or f"MP{_number(line['sku'])}", {"field": "sku", "id": line["sku"]}
        cart.append({
            "marketplace_order_line_id": line["id"],
            "marketplace_product_id": product_id,
            "merchant_product_id": merchant,
            "marketplace_package_id": None,
            "marketplace_status": (words.get(line_status) or [line_status.upper()])[0],
            "lengow_status": line_status,
            "title": line["title"],
            "category": None,
            "url_product": None,
            "url_image": None,
            "amount": _money(Decimal(line["price"]) * max(line["quantity"], 1)),  # the line's total
            "tax": None,
            "discount": None,
            "quantity": line["quantity"],
            "created_at": iso(order["created"]),
            "updated_at": iso(order["updated"]),
        })
    shipping = order.get("shipping")
    total = sum((Decimal(c["amount"]) for c in cart), Decimal("0")) + Decimal(shipping or "0")
    wire = {
        "marketplace": order["group"],
        "account_id": order.get("account_id", LengowCredentials.account_id),
        "marketplace_country_iso2": COUNTRY_OF.get(marketplace["country"], "FR"),
        "marketplace_order_id": order["id"],
        "merchant_order_id": [],
        "marketplace_status": (words.get(status) or ["ON_HOLD"])[0],
        "lengow_status": status,
        "workflow_rank": WORKFLOW_RANK.get(status, 0),
        "marketplace_order_date": None if order.get("no_order_date") else iso(order["created"]),
        "total_order": -1 if order.get("total_unknown") else _money(total),
        "total_tax": None if shipping is None else _money(total - total / Decimal("1.2")),
        "commission": _money(total * Decimal("0.15")),
        "processing_fee": None,
        "shipping": shipping,
        "currency": dict(CURRENCY),
        "comments": None,
        "invoice_number": None,
        "invoice_url": None,
        "payments": [{"id": _number(f"{order['id']}:payment"), "checkout": None, "status": None, "type": "paypal",
                      "settled_at": None, "channel_order_marketplace": _number(order["group"])}],
        "packages": [{"cart": cart, "delivery": _address(order, "delivery")}],
        "billing_address": _address(order, "billing"),
        "contact_address": None,
        "imported_at": iso(order["created"]),
        "updated_at": iso(order["updated"]),
    }
    if order.get("by_marketplace"):
        wire["order_types"] = [{"type": "is_delivered_by_marketplace"}]
    return wire


def render_action(action: dict) -> dict:
    """An action row with the reference's keys (the parcel's keys on ship actions only)."""
    keys = ("id", "marketplace_order_id", "account_id", "marketplace", "action_type", "processed", "queued",
            *(SHIP_KEYS if action["action_type"] == "ship" else ()), "line", "created_at", "updated_at", "errors")
    row = {key: action[key] for key in keys}
    row["created_at"], row["updated_at"] = iso(action["created_at"]), iso(action["updated_at"])
    return row


# -- routes ------------------------------------------------------------------------------------


def error_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message}}


class LengowRoute(APIRoute):
    """Every error of a Lengow route in Lengow's envelope ``{"error": {"code", "message"}}``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except SandboxError as exc:
                return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status)
            except RequestValidationError:
                return JSONResponse(error_body(400, "invalid parameters"), status_code=400)

        return route


router = APIRouter(route_class=LengowRoute)


def _world(request: Request) -> LengowWorld:
    return request.app.state.lengow


def _authorize(request: Request, operation: str, account_id: Any) -> None:
    world = _world(request)
    token = request.headers.get("authorization")
    state = world.token_state(token)
    if state == "expired":
        raise SandboxError(403, "Forbidden", "this token expired: ask /access/get_token for a new one")
    if state != "valid":
        raise SandboxError(401, "Unauthorized", "no valid token in the Authorization header")
    if account_id is not None and str(account_id) != str(world.account_id):
        raise SandboxError(403, "Forbidden", f"account_id {account_id} is not this user's account")
    world.count(operation)


def _page(request: Request, rows: list, page: int, size: int) -> dict:
    chunk = rows[(page - 1) * size: page * size]
    more = page * size < len(rows)
    return {
        "count": len(rows),
        "next": str(request.url.include_query_params(page=page + 1)) if more else None,
        "previous": str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        "results": chunk,
    }


def _paging(params) -> tuple[int, int]:
    try:
        page, size = int(params.get("page", 1)), int(params.get("page_size", MAX_PAGE_SIZE))
    except ValueError:
        raise SandboxError(400, "InvalidInput", "page and page_size are integers") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise SandboxError(400, "InvalidInput", f"page starts at 1; page_size is 1 to {MAX_PAGE_SIZE}")
    return page, size


@router.post("/lengow/access/get_token")
async def get_token(request: Request):
    world, creds = _world(request), request.app.state.lengow_credentials
    world.count("token")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("access_token") != creds.access_token or form.get("secret") != creds.secret:
        raise SandboxError(400, "BadCredentials", "access_token and secret do not match an API user")
    return {"account_id": world.account_id, "token": world.issue_token()}


@router.get("/lengow/v3.0/marketplaces")
async def marketplaces(request: Request):
    world = _world(request)
    _authorize(request, "marketplaces", request.query_params.get("account_id"))
    return {code: copy.deepcopy(MARKETPLACES[code]) for code in world.marketplaces}


@router.get("/lengow/v3.0/orders")
async def list_orders(request: Request):
    params = request.query_params
    if not params.get("account_id"):
        raise SandboxError(400, "InvalidInput", "account_id is required")
    _authorize(request, "orders", params.get("account_id"))
    page, size = _paging(params)
    bounds = {}
    for name in ("updated_from", "updated_to", "marketplace_order_date_from", "marketplace_order_date_to"):
        try:
            bounds[name] = parse_time(params[name]) if params.get(name) else None
        except ValueError:
            raise SandboxError(400, "InvalidInput", f"{name} is not an ISO 8601 date") from None
    world = _world(request)
    now = world.now()
    if not any(bounds.values()):
        bounds["updated_from"] = now - DEFAULT_WINDOW

    def dated(order: dict) -> datetime | None:
        return None if order.get("no_order_date") else order["created"]

    def within(value: datetime | None, low: datetime | None, high: datetime | None) -> bool:
        if low is None and high is None:
            return True
        return value is not None and (low is None or value >= low) and (high is None or value < high)

    found = [
        render(o) for o in world.all_orders()
        if o["created"] <= now
        and params.get("marketplace") in (None, o["group"])
        and params.get("marketplace_order_id") in (None, o["id"])
        and within(o["updated"], bounds["updated_from"], bounds["updated_to"])
        and within(dated(o), bounds["marketplace_order_date_from"], bounds["marketplace_order_date_to"])
    ]
    if params.get("lengow_status"):
        found = [o for o in found if o["lengow_status"] == params["lengow_status"]]
    return _page(request, found, page, size)


async def _action_body(request: Request) -> dict:
    """The action's fields, JSON (Lengow's default) or form-encoded (what its plugins send)."""
    raw = await request.body()
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise SandboxError(400, "InvalidInput", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise SandboxError(400, "InvalidInput", "the body is not a JSON object")
        return body
    return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}


@router.post("/lengow/v3.0/orders/actions/")
async def post_action(request: Request):
    body = await _action_body(request)
    operation = f"action:{body.get('action_type')}"
    _authorize(request, operation, body.get("account_id"))
    world = _world(request)
    action = world.queue(body)
    world.lose_answer(operation)
    return JSONResponse(render_action(action), status_code=201)


@router.get("/lengow/v3.0/orders/actions/")
async def get_actions(request: Request):
    params = request.query_params
    _authorize(request, "actions", params.get("account_id"))
    page, size = _paging(params)
    rows = [render_action(a) for a in _world(request).queued(params.get("marketplace_order_id"), params.get("action_type"),
                                                            params.get("marketplace"), params.get("line"))]
    return _page(request, rows, page, size)


# -- admin: the shared accept-first controls under /_admin/lengow, plus no_ack and token expiry --

admin = admin_router("lengow", _world, render)


@admin.get("/fail")
def admin_armed(request: Request):
    """Injected failures still waiting for their calls."""
    return _world(request).armed()


@admin.post("/tokens/expire")
def admin_expire_tokens(request: Request):
    """Every token issued so far answers 403 (expired) from now on."""
    return {"expired": _world(request).expire_tokens()}
