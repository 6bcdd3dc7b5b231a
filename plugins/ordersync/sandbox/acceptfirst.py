"""State shared by the accept-first sandboxes (Cdiscount/Octopia and Lengow).

Each has its own seeded world of orders in a channel-neutral shape (``status`` one of ``waiting``,
``accepted``, ``importable``, ``shipped``, ``cancelled``, ``refused``); the API modules render
them in their wire shape. Time comes from the Amazon world's movable clock (``/_admin/clock``),
so one clock drives every channel. Lifecycle in sandbox time:

- an order accepted at T becomes ``importable`` at T + ``accept_delay`` (the marketplace checks
  payment first); a refused one is ``refused`` at once;
- every answer, shipment and action received is recorded (``/_admin/<channel>/actions``);
- ``fail`` injects errors (status, count) into the next calls of an operation;
- ``set_clock`` pins the channel's clock at a moment of its own (the fortnight simulation plays
  past days: orders are accepted, released and shipped at the simulated time).

:func:`admin_router` gives both channels the same admin routes under ``/_admin/<channel>``.
"""

from __future__ import annotations

import copy
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ordersync.sandbox.catalog import CATALOG
from ordersync.sandbox.world import iso, parse_time

FIRST = "Camille Louis Léa Hugo Manon Lucas Chloé Jules Inès Antoine".split()
LAST = "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau".split()
CITIES = [("Paris", "75011"), ("Lyon", "69003"), ("Marseille", "13006"), ("Toulouse", "31000"), ("Nantes", "44000")]
STREETS = ["rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire"]
STATUSES = ("waiting", "accepted", "importable", "shipped", "cancelled", "refused")


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class AcceptFirstWorld:
    """Orders of one accept-first channel; all public methods lock and hand out copies."""

    channel = "?"
    statuses: tuple[str, ...] = STATUSES  # what admin may set; a channel may know more (Lengow's "new")

    def __init__(
        self,
        clock: Callable[[], datetime],
        anchor: datetime,
        seed: int = 42,
        days: int = 3,
        orders_per_day: int = 12,
        accept_delay: timedelta = timedelta(minutes=5),
        token_lifetime: int = 7200,
    ):
        self.clock, self.anchor, self.seed, self.days, self.orders_per_day = clock, anchor, seed, days, orders_per_day
        self.accept_delay, self.token_lifetime = accept_delay, token_lifetime
        self._lock = threading.RLock()
        self._tokens: dict[str, datetime] = {}
        self._pinned: datetime | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(f"{self.channel}:{self.seed}")
            self._pinned = None
            self._orders: dict[str, dict] = {}
            self._actions: list[dict] = []
            self._counts: Counter[str] = Counter()
            self._failures: dict[str, list[int]] = {}
            self._lost_answers: dict[str, list[int]] = {}
            for order in self._generate():
                self._orders[order["id"]] = order

    # -- generation --------------------------------------------------------------------------

    def new_id(self, index: int) -> str:
        raise NotImplementedError

    def groups(self) -> list[str | None]:
        """Sub-marketplaces (Lengow's marketplace codes); one None for single-marketplace channels."""
        return [None]

    def _generate(self) -> list[dict]:
        rng = self._rng
        out: list[dict] = []
        span = self.days * 86400
        for group in self.groups():
            count = self.days * self.orders_per_day
            for i in range(count):
                created = self.anchor - timedelta(seconds=span * (count - i) / count)
                age = self.anchor - created
                # recent orders still wait for an answer; older ones went their way
                if age < timedelta(hours=12):
                    status = "waiting"
                else:
                    status = rng.choices(["importable", "shipped", "cancelled", "refused"], [6, 2, 1, 1])[0]
                lines = [
                    (product.sku, product.title, rng.choice([1, 1, 1, 2, 3]), product.price_eur)
                    for product in rng.sample(CATALOG, rng.choice([1, 1, 2]))
                ]
                out.append(self._order(self.new_id(len(out)), group, status, created, created + timedelta(minutes=7), lines))
        # deterministic bad payloads: every run of the sandbox serves them (not-imported reasons)
        bad = [("no_lines", []), ("negative_quantity", [(CATALOG[0].sku, CATALOG[0].title, -1, CATALOG[0].price_eur)]),
               ("unknown_status", [(CATALOG[1].sku, CATALOG[1].title, 1, CATALOG[1].price_eur)])]
        for k, (kind, lines) in enumerate(bad):
            created = self.anchor - timedelta(hours=20 + k)
            order = self._order(self.new_id(len(out)), self.groups()[0], "importable", created, created, lines)
            order["bad"] = kind
            out.append(order)
        return out

    def _order(self, oid: str, group: str | None, status: str, created: datetime, updated: datetime, lines: list) -> dict:
        rng = self._rng
        city, zipcode = rng.choice(CITIES)
        return {
            "id": oid,
            "group": group,
            "status": status,
            "created": created,
            "updated": updated,
            "ready_at": None,
            "buyer": {"first": rng.choice(FIRST), "last": rng.choice(LAST), "email": f"buyer{rng.randrange(10**6)}@example.invalid"},
            "address": {"street": f"{rng.randint(1, 120)} {rng.choice(STREETS)}", "city": city, "zipcode": zipcode,
                        "phone": "+33 6 " + " ".join(f"{rng.randrange(100):02d}" for _ in range(4))},
            "lines": [
                {"id": f"{oid}-{n + 1}", "sku": sku, "title": title, "quantity": qty, "price": price}
                for n, (sku, title, qty, price) in enumerate(lines)
            ],
            "shipments": [],
            "bad": None,
        }

    # -- clock and lifecycle -----------------------------------------------------------------

    def now(self) -> datetime:
        pinned = self._pinned
        return pinned if pinned is not None else self.clock()

    def set_clock(self, moment: datetime | None) -> datetime:
        """Pin the channel's clock at ``moment`` (any time, earlier too); None follows the shared clock again."""
        with self._lock:
            self._pinned = moment
            return self.now()

    def _tick(self) -> None:
        """Bring orders up to the sandbox clock: accepted ones become importable after the delay."""
        now = self.now()
        for order in self._orders.values():
            if order["status"] == "accepted" and order["ready_at"] is not None and order["ready_at"] <= now:
                order["status"], order["updated"] = "importable", order["ready_at"]
        self._tick_actions(now)

    def _tick_actions(self, now: datetime) -> None:
        """Channel hook: Lengow acknowledges queued actions here."""

    # -- tokens, counters, injected failures -------------------------------------------------

    def token_clock(self) -> datetime:
        """The time tokens age on (a channel may keep them on the shared clock)."""
        return self.now()

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.token_clock() + timedelta(seconds=self.token_lifetime)
        return token

    def token_state(self, token: str | None) -> str:
        with self._lock:
            expiry = self._tokens.get(token or "")
        if expiry is None:
            return "invalid"
        return "valid" if expiry > self.token_clock() else "expired"

    def count(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1
            pending = self._failures.get(operation)
            if pending:
                status = pending.pop(0)
                raise SandboxError(status, "InjectedFailure", f"sandbox: injected {status} on {operation}")

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def fail(self, operation: str, status: int, count: int = 1, after: bool = False) -> None:
        """The next ``count`` calls of ``operation`` answer ``status``; with ``after`` the call is
        carried out first and only its answer is lost (the client cannot know it got through)."""
        with self._lock:
            target = self._lost_answers if after else self._failures
            target.setdefault(operation, []).extend([status] * count)

    def lose_answer(self, operation: str) -> None:
        """Called by a route once it has done its work: raise an armed "answer lost" failure."""
        with self._lock:
            pending = self._lost_answers.get(operation)
            if pending:
                status = pending.pop(0)
                raise SandboxError(status, "InjectedFailure", f"sandbox: {operation} done, answer lost ({status})")

    # -- reads -------------------------------------------------------------------------------

    def all_orders(self) -> list[dict]:
        with self._lock:
            self._tick()
            return copy.deepcopy(sorted(self._orders.values(), key=lambda o: (o["updated"], o["id"])))

    def find(self, order_id: str) -> dict | None:
        with self._lock:
            self._tick()
            found = self._orders.get(order_id)
            return copy.deepcopy(found) if found else None

    def actions(self, order_id: str | None = None) -> list[dict]:
        with self._lock:
            self._tick()
            return copy.deepcopy([a for a in self._actions if order_id in (None, a.get("order_id"))])

    # -- writes ------------------------------------------------------------------------------

    def answer(self, order_id: str, accept: bool, record: dict) -> dict:
        """Accept or refuse an order waiting for acceptance; every request is recorded."""
        with self._lock:
            self._tick()
            order = self._orders.get(order_id)
            record = {"order_id": order_id, "at": self.now(), **record}
            if order is None:
                self._actions.append({**record, "accepted": False, "error": "unknown order"})
                raise SandboxError(404, "NotFound", f"order {order_id} not found")
            if order["status"] != "waiting":
                self._actions.append({**record, "accepted": False, "error": f"order is {order['status']}"})
                raise SandboxError(409, "InvalidStatus", f"order {order_id} is not waiting for acceptance ({order['status']})")
            now = self.now()
            if accept:
                order["status"], order["ready_at"] = "accepted", now + self.accept_delay
            else:
                order["status"] = "refused"
            order["updated"] = now
            self._actions.append({**record, "accepted": True})
            return copy.deepcopy(order)

    def ship(self, order_id: str, parcel: dict, record: dict) -> dict:
        with self._lock:
            self._tick()
            order = self._orders.get(order_id)
            record = {"order_id": order_id, "at": self.now(), **record}
            problem = None
            if order is None:
                problem = (404, "NotFound", f"order {order_id} not found")
            elif order["status"] not in ("importable", "shipped"):
                problem = (409, "InvalidStatus", f"order {order_id} cannot be shipped ({order['status']})")
            elif not parcel.get("tracking"):
                problem = (400, "InvalidInput", "parcel number / tracking number is required")
            else:
                known = {line["id"] for line in order["lines"]}
                unknown = [i for i in parcel.get("lines") or [] if i not in known]
                if unknown:
                    problem = (400, "InvalidInput", f"unknown order lines {unknown}")
            if problem or order is None:
                problem = problem or (404, "NotFound", f"order {order_id} not found")
                self._actions.append({**record, "accepted": False, "error": problem[2]})
                raise SandboxError(*problem)
            order["shipments"].append({**parcel, "at": self.now()})
            order["status"], order["updated"] = "shipped", self.now()
            self._actions.append({**record, "accepted": True})
            return copy.deepcopy(order)

    def set_status(self, order_id: str, status: str, at: datetime | None = None) -> dict:
        """Admin: move an order (the buyer cancels, the marketplace refuses...) at ``at`` (default now)."""
        if status not in self.statuses:
            raise ValueError(f"status must be one of {', '.join(self.statuses)}")
        with self._lock:
            self._tick()
            order = self._orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            order["status"], order["updated"] = status, at or self.now()
            return copy.deepcopy(order)

    def admin_update(self, order_id: str, body: dict) -> dict:
        """Admin ``POST /orders/{id}``: ``{"status", "at"?}``; channels add their own keys."""
        if body.get("status"):
            return self.set_status(order_id, body["status"], _time(body.get("at")))
        found = self.find(order_id)
        if found is None:
            raise KeyError(order_id)
        return found

    def add_order(self, spec: dict) -> dict:
        """Admin: a crafted order: status, lines [{sku, quantity, price?, title?}], group?, id?,
        created? (ISO time, default now; it is also the last update)."""
        with self._lock:
            lines = [
                (line["sku"], line.get("title") or line["sku"], int(line["quantity"]), str(line.get("price", "10.00")))
                for line in spec.get("lines") or []
            ]
            oid = spec.get("id") or self.new_id(len(self._orders) + 1000)
            created = _time(spec.get("created")) or self.now()
            order = self._order(oid, spec.get("group", self.groups()[0]), spec.get("status", "waiting"), created, created, lines)
            self._orders[oid] = order
            return copy.deepcopy(order)


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def admin_router(channel: str, world_of: Callable[[Request], AcceptFirstWorld], render: Callable[[dict], dict]) -> APIRouter:  # one route per control: listing them is the length
    """The test and simulation controls of an accept-first channel, under ``/_admin/<channel>``."""
    admin = APIRouter(prefix=f"/_admin/{channel}")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @admin.get("/orders")
    def admin_orders(request: Request):
        return {"orders": [render(o) for o in world_of(request).all_orders()]}

    @admin.get("/actions")
    def admin_actions(request: Request, orderId: str | None = None):  # noqa: N803
        """Every answer, shipment or action request received, accepted or not, oldest first."""
        return {"actions": [{**a, "at": iso(a["at"])} for a in world_of(request).actions(orderId)]}

    @admin.get("/requests")
    def admin_requests(request: Request):
        return world_of(request).counters()

    @admin.post("/orders")
    async def admin_add(request: Request):
        try:
            order = world_of(request).add_order(await request.json())
        except (KeyError, TypeError, ValueError) as exc:
            return error(400, f"cannot create order: {exc}")
        return JSONResponse({"order": render(order)}, status_code=201)

    @admin.post("/orders/{order_id}")
    async def admin_status(order_id: str, request: Request):
        """``{"status": "cancelled", "at"?: ISO}``: the buyer cancels, the marketplace refuses..."""
        try:
            return {"order": render(world_of(request).admin_update(order_id, await request.json() or {}))}
        except KeyError:
            return error(404, f"unknown order {order_id}")
        except ValueError as exc:
            return error(400, str(exc))

    @admin.post("/clock")
    async def admin_clock(request: Request):
        """``{"now": ISO}`` pins the channel's clock there (earlier too); ``{"now": null}`` unpins it."""
        body = await request.json() or {}
        try:
            return {"now": iso(world_of(request).set_clock(_time(body.get("now"))))}
        except ValueError as exc:
            return error(400, str(exc))

    @admin.post("/fail")
    async def admin_fail(request: Request):
        """``{"operation", "status": 500, "count": 1, "after": false}``: the next calls fail
        (``after``: they are carried out, then answer the error)."""
        body = await request.json()
        world_of(request).fail(body["operation"], int(body.get("status", 500)), int(body.get("count", 1)), bool(body.get("after")))
        return {"status": "armed"}

    @admin.post("/reset")
    def admin_reset(request: Request):
        world_of(request).reset()
        return {"status": "reset"}

    return admin
