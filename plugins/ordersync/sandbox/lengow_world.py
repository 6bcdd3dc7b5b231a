"""The Lengow sandbox's world: one account's orders over several marketplaces, the rules each
marketplace gives its actions (``GET /v3.0/marketplaces``), the action queue and the
marketplace's acknowledgements. :mod:`ordersync.sandbox.lengow` renders it and serves the API.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ordersync.sandbox.acceptfirst import STATUSES, AcceptFirstWorld, SandboxError
from ordersync.sandbox.catalog import SHOP_MISSING_SKUS

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

    def token_clock(self) -> datetime:
        """The shared clock: pinning plays past order days, it does not age a client's session."""
        return self.clock()

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
