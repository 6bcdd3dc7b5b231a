"""Lengow API v3 as the sandbox plays it (under ``/lengow``): one account, several marketplaces.

``POST /lengow/access/get_token`` (``access_token`` + ``secret`` -> ``token``, ``account_id``),
then with ``Authorization: <token>``: ``GET /v3.0/orders`` (``account_id``, ``marketplace``,
``updated_from``/``updated_to``, ``marketplace_order_date_from``/``_to``, ``marketplace_order_id``, ``page``, ``page_size``; answers
``count``/``next``/``previous``/``results``), ``POST /v3.0/orders/actions/`` and
``GET /v3.0/orders/actions/``. Actions are queued (``processed: false``); the marketplace
acknowledges them after ``ack_delay``; orders flagged ``no_ack`` never are, and after
``ack_timeout`` their action carries ``errors`` (the merchant sees it as not shipped).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ordersync.sandbox.acceptfirst import AcceptFirstWorld, SandboxError, admin_router
from ordersync.sandbox.world import iso, parse_time

WIRE_STATUS = {
    "waiting": "waiting_acceptance", "accepted": "accepted", "importable": "waiting_shipment",
    "shipped": "shipped", "cancelled": "canceled", "refused": "refused",
}
ACTION_TYPES = ("accept", "refuse", "ship", "cancel")


@dataclass(frozen=True)
class LengowCredentials:
    access_token: str = "sandbox-lengow-access"
    secret: str = "sandbox-lengow-secret"
    account_id: int = 4321


class LengowWorld(AcceptFirstWorld):
    channel = "lengow"

    def __init__(self, *args, marketplaces: tuple[str, ...] = ("amazon_fr", "cdiscount"),
                 ack_delay: timedelta = timedelta(minutes=2), ack_timeout: timedelta = timedelta(minutes=30), **kwargs):
        self.marketplaces, self.ack_delay, self.ack_timeout = tuple(marketplaces), ack_delay, ack_timeout
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

    def admin_update(self, order_id: str, body: dict) -> dict:
        """Also ``{"no_ack": true}``: the marketplace never acknowledges this order's actions."""
        if body.get("no_ack"):
            with self._lock:
                if order_id not in self._orders:
                    raise KeyError(order_id)
                self.no_ack.add(order_id)
        return super().admin_update(order_id, body)

    def queue(self, body: dict) -> dict:
        """Record an action; accept/refuse/ship/cancel take effect when the marketplace acknowledges."""
        with self._lock:
            self._tick()
            order = self._orders.get(str(body.get("marketplace_order_id")))
            kind = body.get("action_type")
            record = {"operation": kind, "order_id": body.get("marketplace_order_id"), "at": self.now(), "body": body}
            problem = None
            if kind not in ACTION_TYPES:
                problem = f"action_type must be one of {', '.join(ACTION_TYPES)}"
            elif order is None or order["group"] != body.get("marketplace"):
                problem = "unknown marketplace_order_id for this marketplace"
            elif kind in ("accept", "refuse") and order["status"] != "waiting":
                problem = f"order is {WIRE_STATUS[order['status']]}, not waiting_acceptance"
            elif kind == "ship" and (order["status"] not in ("importable", "shipped") or not body.get("tracking_number")):
                problem = "ship needs an order in waiting_shipment and a tracking_number"
            if problem:
                self._actions.append({**record, "accepted": False, "error": problem})
                raise SandboxError(400, "InvalidAction", problem)
            action = {"id": self._next_action, "account_id": body.get("account_id"), "marketplace": order["group"],
                      "marketplace_order_id": order["id"], "action_type": kind, "processed": False, "errors": None,
                      "tracking_number": body.get("tracking_number"), "carrier": body.get("carrier"),
                      "created_at": self.now(), "updated_at": self.now()}
            self._next_action += 1
            order.setdefault("queue", []).append(action)
            self._actions.append({**record, "accepted": True, "action_id": action["id"]})
            return copy.deepcopy(action)

    def _tick_actions(self, now: datetime) -> None:
        for order in self._orders.values():
            for action in order.get("queue", []):
                if action["processed"] or action["errors"]:
                    continue
                if order["id"] in self.no_ack:
                    if now - action["created_at"] >= self.ack_timeout:
                        action["errors"] = [f"not acknowledged by {order['group']} within {int(self.ack_timeout.total_seconds() // 60)} minutes"]
                        action["updated_at"] = now
                    continue
                done = action["created_at"] + self.ack_delay
                if done > now:
                    continue
                action["processed"], action["updated_at"] = True, done
                kind = action["action_type"]
                if kind == "accept" and order["status"] == "waiting":
                    order["status"], order["ready_at"], order["updated"] = "accepted", done + self.accept_delay, done
                elif kind == "refuse" and order["status"] == "waiting":
                    order["status"], order["updated"] = "refused", done
                elif kind == "ship":
                    order["shipments"].append({"tracking": action["tracking_number"], "carrier": action["carrier"], "at": done})
                    order["status"], order["updated"] = "shipped", done
                elif kind == "cancel":
                    order["status"], order["updated"] = "cancelled", done
        # accepted orders become importable once the marketplace released them (base _tick ran first)
        for order in self._orders.values():
            if order["status"] == "accepted" and order["ready_at"] is not None and order["ready_at"] <= now:
                order["status"], order["updated"] = "importable", order["ready_at"]

    def queued(self, order_id: str | None, kind: str | None) -> list[dict]:
        with self._lock:
            self._tick()
            return copy.deepcopy([
                a for o in self._orders.values() for a in o.get("queue", [])
                if order_id in (None, a["marketplace_order_id"]) and kind in (None, a["action_type"])
            ])


def render(order: dict) -> dict:
    status = WIRE_STATUS[order["status"]]
    cart = [
        {"marketplace_order_line_id": line["id"], "merchant_product_id": {"field": "sku", "id": line["sku"]},
         "title": line["title"], "quantity": line["quantity"],
         "amount": str((Decimal(line["price"]) * max(line["quantity"], 1)).quantize(Decimal("0.01"))),
         "lengow_status": status}
        for line in order["lines"]
    ]
    total = sum((Decimal(c["amount"]) for c in cart), Decimal("0"))
    person = {"first_name": order["buyer"]["first"], "last_name": order["buyer"]["last"]}
    wire = {
        "marketplace": order["group"],
        "marketplace_order_id": order["id"],
        "lengow_status": status,
        "marketplace_status": status.upper(),
        "marketplace_order_date": iso(order["created"]),
        "updated_at": iso(order["updated"]),
        "currency": {"iso_a3": "EUR"},
        "total_order": str(total),
        "shipping_method": "Standard",
        "billing_address": {**person, "email": order["buyer"]["email"]},
        "packages": [{"delivery": {**person, "first_line": order["address"]["street"], "city": order["address"]["city"],
                                   "zipcode": order["address"]["zipcode"], "common_country_iso_a2": "FR",
                                   "phone_mobile": order["address"]["phone"]},
                      "cart": cart}],
    }
    if order["bad"] == "unknown_status":
        wire["lengow_status"] = "on_hold_mystery"
    return wire


def render_action(action: dict) -> dict:
    return {**action, "created_at": iso(action["created_at"]), "updated_at": iso(action["updated_at"])}


router = APIRouter()


def _world(request: Request) -> LengowWorld:
    return request.app.state.lengow


def _authorize(request: Request, operation: str, account_id) -> None:
    world, creds = _world(request), request.app.state.lengow_credentials
    state = world.token_state(request.headers.get("authorization"))
    if state != "valid":
        raise SandboxError(401, "Unauthorized", f"token {state}")
    if str(account_id) != str(creds.account_id):
        raise SandboxError(403, "Forbidden", "account_id is not this user's account")
    world.count(operation)


@router.post("/lengow/access/get_token")
async def get_token(request: Request):
    world, creds = _world(request), request.app.state.lengow_credentials
    world.count("token")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("access_token") != creds.access_token or form.get("secret") != creds.secret:
        return JSONResponse({"error": {"code": 401, "message": "bad access_token or secret"}}, status_code=401)
    return {"token": world.issue_token(), "account_id": creds.account_id, "user_id": 1, "expires_in": world.token_lifetime}


@router.get("/lengow/v3.0/orders")
def list_orders(request: Request):
    params = request.query_params
    _authorize(request, "orders", params.get("account_id"))
    try:
        page, size = int(params.get("page", 1)), int(params.get("page_size", 100))
        low = parse_time(params["updated_from"]) if params.get("updated_from") else None
        high = parse_time(params["updated_to"]) if params.get("updated_to") else None
        ordered_from = parse_time(params["marketplace_order_date_from"]) if params.get("marketplace_order_date_from") else None
        ordered_to = parse_time(params["marketplace_order_date_to"]) if params.get("marketplace_order_date_to") else None
    except ValueError:
        raise SandboxError(400, "InvalidInput", "page, page_size are integers; updated_from/to ISO 8601") from None
    world, now = _world(request), _world(request).now()
    found = [
        render(o) for o in world.all_orders()
        if o["created"] <= now
        and params.get("marketplace") in (None, o["group"])
        and params.get("marketplace_order_id") in (None, o["id"])
        and params.get("lengow_status") in (None, WIRE_STATUS[o["status"]])
        and (low is None or o["updated"] >= low)
        and (high is None or o["updated"] < high)
        and (ordered_from is None or o["created"] >= ordered_from)
        and (ordered_to is None or o["created"] < ordered_to)
    ]
    chunk = found[(page - 1) * size: page * size]
    more = page * size < len(found)
    return {"count": len(found), "next": f"?page={page + 1}" if more else None,
            "previous": f"?page={page - 1}" if page > 1 else None, "results": chunk}


@router.post("/lengow/v3.0/orders/actions/")
async def post_action(request: Request):
    body = await request.json() or {}
    _authorize(request, f"action:{body.get('action_type')}", body.get("account_id"))
    action = _world(request).queue(body)
    _world(request).lose_answer(f"action:{body.get('action_type')}")
    return JSONResponse(render_action(action), status_code=201)


@router.get("/lengow/v3.0/orders/actions/")
def get_actions(request: Request):
    params = request.query_params
    _authorize(request, "actions", params.get("account_id"))
    results = [render_action(a) for a in _world(request).queued(params.get("marketplace_order_id"), params.get("action_type"))]
    return {"count": len(results), "next": None, "previous": None, "results": results}


# -- admin: the shared accept-first controls under /_admin/lengow, plus {"no_ack": true} ---------

admin = admin_router("lengow", _world, render)
