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
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ordersync.sandbox.acceptfirst import STATUSES, AcceptFirstWorld, SandboxError, admin_router
from ordersync.sandbox.catalog import CATALOG, SHOP_MISSING_SKUS
from ordersync.sandbox.world import iso, parse_time

WIRE_STATUS = {
    "new": "new", "waiting": "waiting_acceptance", "accepted": "accepted", "importable": "waiting_shipment",
    "shipped": "shipped", "cancelled": "canceled", "refused": "refused",
}
ACTION_TYPES = ("accept", "refuse", "ship", "cancel", "refund")
SHIP_KEYS = ("tracking_number", "tracking_url", "carrier")  # only ship rows carry them
DEFAULT_WINDOW = timedelta(days=7)  # no date filter: Lengow is reported to read 7 days
MAX_PAGE_SIZE = 100
CURRENCY = {"iso_a3": "EUR", "symbol": "€", "name": "Euro"}
# Lengow status -> the marketplace's own words (the reference's table, shared by both marketplaces)
MARKETPLACE_STATUSES = {
    "new": ["STAGING"],
    "waiting_acceptance": ["WAITING_ACCEPTANCE"],
    "accepted": ["WAITING_DEBIT", "WAITING_DEBIT_PAYMENT"],
    "refused": ["REFUSED"],
    "waiting_shipment": ["SHIPPING"],
    "shipped": ["SHIPPED"],
    "closed": ["RECEIVED", "CLOSED"],
    "canceled": ["CANCELED"],
    "refunding": ["WAITING_REFUND", "WAITING_REFUND_PAYMENT"],
    "refunded": ["REFUNDED"],
}
WORKFLOW_RANK = {"new": 1, "waiting_acceptance": 3, "refused": 4, "accepted": 6, "waiting_shipment": 7,
                 "shipped": 8, "closed": 9, "canceled": 10}


def _action(args: list[str], optional: list[str], statuses: list[str]) -> dict:
    return {"args": args, "optional_args": optional, "status": statuses}


# What GET /v3.0/marketplaces serves, in the reference's shape
MARKETPLACES: dict[str, dict] = {
    "amazon_fr": {
        "orders": {
            "carriers": {
                "LAPOSTE": {"label": "La Poste"},
                "COLISSIMO": {"label": "Colissimo"},
                "CHRONOPOST": {"label": "Chronopost"},
                "GLS": {"label": "Gls"},
                "DHL": {"label": "DHL Express"},
            },
            "status": MARKETPLACE_STATUSES,
            "actions": {
                "accept": _action([], ["line"], ["waiting_acceptance"]),
                "refuse": _action([], ["line"], ["waiting_acceptance"]),
                "cancel": _action([], ["line"], ["waiting_acceptance", "accepted", "waiting_shipment"]),
                # one ship action per order line, with a carrier code of the list above
                "ship": _action(["line", "carrier", "tracking_number"], ["tracking_url"], ["waiting_shipment"]),
            },
        },
        "name": "Amazon France (sandbox)",
        "homepage": "https://www.amazon.fr",
        "logo": None,
        "description": "sandbox marketplace: one ship action per order line",
        "country": "FRA",
    },
    "cdiscount": {
        "orders": {
            "carriers": {},
            "status": MARKETPLACE_STATUSES,
            "actions": {
                "accept": _action([], ["line"], ["waiting_acceptance"]),
                "refuse": _action([], ["line"], ["waiting_acceptance"]),
                "refund": _action(["reason_code"], ["line"], ["waiting_refund"]),
                "ship": _action(["tracking_number"], ["line", "carrier"], ["waiting_shipment"]),
            },
        },
        "name": "Cdiscount (sandbox)",
        "homepage": "https://www.cdiscount.com",
        "logo": None,
        "description": "sandbox marketplace: one ship action per order, no cancel action",
        "country": "FRA",
    },
}
COUNTRY_OF = {"FRA": "FR"}
# where an action may also go although the marketplace's list does not name the status: a later
# parcel of an order already shipped, a line shipped while the others still wait
SHIP_ALSO = ("shipped",)


@dataclass(frozen=True)
class LengowCredentials:
    access_token: str = "sandbox-lengow-access"
    secret: str = "sandbox-lengow-secret"
    account_id: int = 4321


def _number(value: str) -> int:
    return zlib.crc32(value.encode()) % 100_000


class LengowWorld(AcceptFirstWorld):
    channel = "lengow"
    statuses = (*STATUSES, "new")

    def __init__(self, *args, marketplaces: tuple[str, ...] = ("amazon_fr", "cdiscount"),
                 ack_delay: timedelta = timedelta(minutes=2), ack_timeout: timedelta = timedelta(minutes=30),
                 account_id: int = LengowCredentials.account_id, **kwargs):
        unknown = [m for m in marketplaces if m not in MARKETPLACES]
        if unknown:
            raise ValueError(f"the sandbox has no Lengow marketplace {', '.join(unknown)}")
        self.marketplaces, self.ack_delay, self.ack_timeout = tuple(marketplaces), ack_delay, ack_timeout
        self.account_id = account_id
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        with self._lock:
            self._next_action = 1
            self.no_ack: set[str] = set()
            super().reset()

    def groups(self):
        return list(self.marketplaces)

    def new_id(self, index: int) -> str:
        return f"LG-{self._rng.randrange(10**3):03d}-{index:06d}"

    def _order(self, oid, group, status, created, updated, lines) -> dict:
        order = super()._order(oid, group, status, created, updated, lines)
        order.update(no_order_date=False, sku_in_product_id=False, by_marketplace=False, total_unknown=False,
                     shipping=None, account_id=self.account_id)
        for line in order["lines"]:
            line["status"] = None  # a line's own Lengow status once it differs from the order's
        return order

    def _generate(self) -> list[dict]:
        """The shared seeded history, plus what real Lengow orders look like: no order date,
        lines Lengow could not tie to the merchant's feed, ``new`` orders, a marketplace-fulfilled
        order and an order whose total Lengow does not know."""
        orders = super()._generate()
        rng = self._rng
        for order in orders:
            order["no_order_date"] = rng.random() < 0.25
            order["sku_in_product_id"] = not order["bad"] and rng.random() < 0.2
            order["shipping"] = rng.choice([None, "4.90", "0.00"])
        for group in self.groups():
            # products the demo shop sells, so the orders that show a shape can also be imported
            settled = [o for o in orders if o["group"] == group and not o["bad"] and o["status"] in ("importable", "shipped")
                       and all(line["sku"] not in SHOP_MISSING_SKUS for line in o["lines"])]
            if len(settled) < 5:
                continue
            picked = rng.sample(settled, 5)
            for order in picked[:2]:
                order["status"] = "new"  # the marketplace is still creating them
            picked[2]["status"], picked[2]["by_marketplace"] = "shipped", True  # it shipped it itself
            picked[3]["status"], picked[3]["total_unknown"] = "importable", True
            picked[4]["status"], picked[4]["no_order_date"], picked[4]["sku_in_product_id"] = "importable", True, True
        return orders

    def add_order(self, spec: dict) -> dict:
        """Admin: also ``by_marketplace``, ``no_order_date``, ``sku_in_product_id``,
        ``total_unknown`` (booleans) and ``shipping`` (an amount or null)."""
        with self._lock:
            order = super().add_order(spec)
            stored = self._orders[order["id"]]
            for key in ("by_marketplace", "no_order_date", "sku_in_product_id", "total_unknown"):
                stored[key] = bool(spec.get(key, False))
            if spec.get("shipping") is not None:
                stored["shipping"] = str(Decimal(str(spec["shipping"])).quantize(Decimal("0.01")))
            return copy.deepcopy(stored)

    def admin_update(self, order_id: str, body: dict) -> dict:
        """Also ``{"no_ack": true}``: the marketplace never acknowledges this order's actions."""
        if body.get("no_ack"):
            with self._lock:
                if order_id not in self._orders:
                    raise KeyError(order_id)
                self.no_ack.add(order_id)
        return super().admin_update(order_id, body)

    # -- tokens on the shared clock --------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + timedelta(seconds=self.token_lifetime)
        return token

    def token_state(self, token: str | None) -> str:
        with self._lock:
            expiry = self._tokens.get(token or "")
        if expiry is None:
            return "invalid"
        return "valid" if expiry > self.clock() else "expired"

    def armed(self) -> dict[str, dict[str, int]]:
        """Admin: injected failures not consumed yet, per operation (``failures``: refused
        before acting; ``lost_answers``: carried out, answer lost)."""
        with self._lock:
            return {"failures": {k: len(v) for k, v in self._failures.items() if v},
                    "lost_answers": {k: len(v) for k, v in self._lost_answers.items() if v}}

    def expire_tokens(self) -> int:
        """Admin: every token issued so far is expired from now on."""
        with self._lock:
            now = self.clock()
            for token in self._tokens:
                self._tokens[token] = now
            return len(self._tokens)

    # -- actions ---------------------------------------------------------------------------

    def queue(self, body: dict) -> dict:
        """Check an action against the marketplace's rules and queue it; it takes effect when the
        marketplace acknowledges it. Every request is recorded, refused ones too."""
        with self._lock:
            self._tick()
            order_id = str(body.get("marketplace_order_id") or "")
            order = self._orders.get(order_id)
            kind = body.get("action_type")
            line = body.get("line") or None
            record = {"operation": kind, "order_id": order_id, "line": line, "at": self.now(), "body": body}
            problem = self._problem(order, body, kind, line)
            if problem or order is None:
                problem = problem or "unknown marketplace_order_id for this marketplace"
                self._actions.append({**record, "accepted": False, "error": problem})
                raise SandboxError(400, "InvalidAction", problem)
            now = self.now()
            action = {"id": self._next_action, "marketplace_order_id": order["id"], "account_id": self.account_id,
                      "marketplace": order["group"], "action_type": kind, "processed": False, "queued": True,
                      "tracking_number": body.get("tracking_number"), "tracking_url": body.get("tracking_url"),
                      "carrier": body.get("carrier"), "line": line, "created_at": now, "updated_at": now, "errors": ""}
            self._next_action += 1
            order.setdefault("queue", []).append(action)
            self._actions.append({**record, "accepted": True, "action_id": action["id"]})
            return {**copy.deepcopy(action), "queued": False}  # just created: not queued yet

    def _problem(self, order: dict | None, body: dict, kind: Any, line: Any) -> str | None:
        marketplace = MARKETPLACES.get(str(body.get("marketplace")))
        if marketplace is None or body.get("marketplace") not in self.marketplaces:
            return f"unknown marketplace {body.get('marketplace')!r}"
        spec = marketplace["orders"]["actions"].get(kind)
        if spec is None:
            return f"action_type {kind!r} is not available on {body['marketplace']}"
        if str(body.get("account_id")) != str(self.account_id):
            return "account_id is not this account"
        if order is None or order["group"] != body.get("marketplace"):
            return f"no order {body.get('marketplace_order_id')!r} on {body['marketplace']}"
        missing = [arg for arg in spec["args"] if body.get(arg) in (None, "")]
        if missing:
            return f"missing required argument(s) {', '.join(missing)} for {kind} on {body['marketplace']}"
        allowed = set(spec["args"]) | set(spec["optional_args"]) | {"account_id", "marketplace", "marketplace_order_id", "action_type"}
        extra = sorted(k for k, v in body.items() if k not in allowed and v not in (None, ""))
        if extra:
            return f"argument(s) {', '.join(extra)} not accepted for {kind} on {body['marketplace']}"
        carriers = marketplace["orders"]["carriers"]
        if body.get("carrier") and carriers and body["carrier"] not in carriers:
            return f"carrier {body['carrier']!r} is not a carrier code of {body['marketplace']} ({', '.join(carriers)})"
        if line is not None and line not in {entry["id"] for entry in order["lines"]}:
            return f"order {order['id']} has no line {line!r}"
        status = WIRE_STATUS[order["status"]]
        if status not in spec["status"] and not (kind == "ship" and status in SHIP_ALSO):
            return f"{kind} is not possible on an order in {status}"
        return None

    def _tick_actions(self, now: datetime) -> None:
        for order in self._orders.values():
            for action in order.get("queue", []):
                if action["processed"] or action["errors"]:
                    continue
                if order["id"] in self.no_ack:
                    if now - action["created_at"] >= self.ack_timeout:
                        minutes = int(self.ack_timeout.total_seconds() // 60)
                        action["errors"] = f"not acknowledged by {order['group']} within {minutes} minutes"
                        action["queued"], action["updated_at"] = False, now
                    continue
                done = action["created_at"] + self.ack_delay
                if done > now:
                    continue
                action["processed"], action["queued"], action["updated_at"] = True, False, done
                self._apply(order, action, done)
        # accepted orders become importable once the marketplace released them (base _tick ran first)
        for order in self._orders.values():
            if order["status"] == "accepted" and order["ready_at"] is not None and order["ready_at"] <= now:
                order["status"], order["updated"] = "importable", order["ready_at"]

    def _apply(self, order: dict, action: dict, done: datetime) -> None:
        """What an acknowledged action does: to the order, or to one line and, once every line is
        done, to the order."""
        kind, lines = action["action_type"], order["lines"]
        targets = [entry for entry in lines if action["line"] in (None, entry["id"])]
        if kind in ("accept", "refuse") and order["status"] == "waiting":
            for entry in targets:
                entry["answer"] = kind
            if all(entry.get("answer") for entry in lines):
                if any(entry["answer"] == "accept" for entry in lines):
                    order["status"], order["ready_at"] = "accepted", done + self.accept_delay
                    for entry in lines:
                        entry["status"] = "refused" if entry["answer"] == "refuse" else None
                else:
                    order["status"] = "refused"
                order["updated"] = done
        elif kind == "ship" and order["status"] in ("importable", "shipped"):  # never revives a cancelled order
            order["shipments"].append({"tracking": action["tracking_number"], "carrier": action["carrier"],
                                       "line": action["line"], "at": done})
            for entry in targets:
                entry["status"] = "shipped"
            if all(entry["status"] in ("shipped", "refused", "canceled") for entry in lines):
                order["status"] = "shipped"
            order["updated"] = done
        elif kind == "cancel" and order["status"] not in ("cancelled", "refused", "shipped"):
            for entry in targets:
                entry["status"] = "canceled"
            if all(entry["status"] in ("canceled", "refused") for entry in lines):
                order["status"] = "cancelled"
            order["updated"] = done

    def queued(self, order_id: str | None = None, kind: str | None = None, marketplace: str | None = None,
               line: str | None = None) -> list[dict]:
        with self._lock:
            self._tick()
            return copy.deepcopy([
                a for o in self._orders.values() for a in o.get("queue", [])
                if order_id in (None, a["marketplace_order_id"]) and kind in (None, a["action_type"])
                and marketplace in (None, a["marketplace"]) and line in (None, a["line"])
            ])


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


def render(order: dict) -> dict:
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
