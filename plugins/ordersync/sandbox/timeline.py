"""A fortnight of marketplace life as a deterministic list of events (the simulation's ground truth).

Each simulated Amazon order has a creation time, the moment it becomes visible in the API (minutes
later, sometimes hours: Amazon lists some orders late, FBA ones up to two days late) and a status
history (Pending for up to three days, cancellations before and after import). The simulation
driver pushes each event into the sandbox through its admin API when the simulated clock passes
it, so a lookup only ever sees what a real one would have seen at that moment.

:class:`AcceptFirstTimeline` plans an accept-first channel (Cdiscount) the same way: orders
appear waiting for acceptance (some listed 12 h late) and a few buyers cancel; the answers, the
release after payment and the shipments are the sandbox's own doing, at the simulated time.
:class:`LengowTimeline` plans one marketplace of a Lengow account: the same, plus orders that are
``new`` for a few minutes before they wait for acceptance, and orders the marketplace delivers
itself (shipped by it hours later, never accepted nor shipped by the shop).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ordersync.sandbox.catalog import CATALOG, SHOP_MISSING_SKUS

IMPORTABLE = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")


@dataclass
class PlannedOrder:
    order_id: str
    country: str
    fulfilled_by: str  # MERCHANT | AMAZON
    created: datetime
    visible_at: datetime
    items: list[tuple[str, int]]  # (sku, quantity)
    history: list[tuple[datetime, str]] = field(default_factory=list)  # (when, status), first is creation

    def status_at(self, moment: datetime) -> tuple[str, datetime]:
        """Status and last update time as the marketplace has them at ``moment``."""
        current = self.history[0]
        for when, status in self.history:
            if when <= moment:
                current = (when, status)
        return current[1], current[0]

    @property
    def final_status(self) -> str:
        return self.history[-1][1]

    @property
    def known_products(self) -> bool:
        return all(sku not in SHOP_MISSING_SKUS for sku, _ in self.items)


@dataclass(frozen=True)
class Event:
    when: datetime
    kind: str  # "appear" (add the order as it is at that moment) | "status" (a later change)
    order: PlannedOrder
    status: str | None = None


class _Plan:
    """Planned orders as a sorted list of events."""

    orders: list[PlannedOrder]

    def events(self) -> list[Event]:
        out = []
        for order in self.orders:
            out.append(Event(order.visible_at, "appear", order))
            out += [Event(when, "status", order, status) for when, status in order.history if when > order.visible_at]
        return sorted(out, key=lambda e: (e.when, e.order.order_id, e.kind))

    def until(self, moment: datetime, after: datetime | None = None) -> Iterator[Event]:
        """Events in (after, moment]."""
        for event in self.events():
            if (after is None or event.when > after) and event.when <= moment:
                yield event


class Timeline(_Plan):
    """Orders of ``countries`` over ``days`` from ``start``, ``orders_per_day`` each, from ``seed``."""

    def __init__(self, start: datetime, days: int, orders_per_day: int, countries: Iterable[str], seed: int = 7):
        self.start, self.days = start, days
        self.end = start + timedelta(days=days)
        rng = random.Random(seed)
        skus = [p.sku for p in CATALOG]
        known = [s for s in skus if s not in SHOP_MISSING_SKUS]
        self.orders: list[PlannedOrder] = []
        for country in countries:
            for n in range(days * orders_per_day):
                created = start + timedelta(seconds=rng.randrange(days * 86400))
                pool = skus if rng.random() < 0.04 else known  # a few orders of products the shop lacks
                items = [(sku, rng.choice((1, 1, 1, 2, 3))) for sku in rng.sample(pool, rng.choice((1, 1, 2, 3)))]
                order_id = f"{rng.randint(402, 408):03d}-{rng.randrange(10**7):07d}-{n:07d}"
                if rng.random() < 0.2:
                    self.orders.append(self._fba(rng, order_id, country, created, items))
                else:
                    self.orders.append(self._merchant(rng, order_id, country, created, items))

    @staticmethod
    def _fba(rng: random.Random, order_id: str, country: str, created: datetime, items) -> PlannedOrder:
        shipped = created + timedelta(hours=rng.uniform(2, 30))
        late = timedelta(hours=rng.uniform(1, 48)) if rng.random() < 0.3 else timedelta(minutes=rng.uniform(1, 20))
        order = PlannedOrder(order_id, country, "AMAZON", created, shipped + late, items)
        order.history = [(created, "PENDING"), (shipped, "SHIPPED")]
        return order

    @staticmethod
    def _merchant(rng: random.Random, order_id: str, country: str, created: datetime, items) -> PlannedOrder:
        r = rng.random()
        delay = (
            timedelta(hours=12) if r < 0.05 else timedelta(hours=rng.uniform(1, 4)) if r < 0.15 else timedelta(minutes=rng.uniform(1, 10))
        )
        order = PlannedOrder(order_id, country, "MERCHANT", created, created + delay, items)
        history = [(created, "PENDING")]
        if rng.random() < 0.2:  # payment checks keep it pending for up to three days
            decided = created + timedelta(minutes=rng.uniform(5, 72 * 60))
            history.append((decided, "CANCELLED" if rng.random() < 0.1 else "UNSHIPPED"))
        else:
            history.append((created + timedelta(minutes=rng.uniform(1, 5)), "UNSHIPPED"))
        if history[-1][1] == "UNSHIPPED" and rng.random() < 0.04:  # the buyer cancels, before or after import
            history.append((history[-1][0] + timedelta(hours=rng.uniform(0.2, 24)), "CANCELLED"))
        order.history = history
        return order

    def expected_in_shop(self, import_fba: bool, by: datetime | None = None) -> set[str]:
        """Orders that must be in the shop at the end: importable now, products known."""
        by = by or self.end
        out = set()
        for order in self.orders:
            status, _ = order.status_at(by)
            if order.visible_at > by or not order.known_products:
                continue
            if order.fulfilled_by == "MERCHANT" and status in IMPORTABLE:
                out.add(order.order_id)
            elif order.fulfilled_by == "AMAZON" and import_fba and status == "SHIPPED":
                out.add(order.order_id)
        return out


def _accept_first_draw(
    rng: random.Random, start: datetime, days: int, line_counts: tuple[int, ...]
) -> tuple[datetime, list[tuple[str, int]], timedelta]:
    """One accept-first order's creation time, lines and listing delay (4% for products the shop
    does not sell, so they are refused; 5% listed 12 hours late)."""
    skus = [p.sku for p in CATALOG]
    known = [s for s in skus if s not in SHOP_MISSING_SKUS]
    created = start + timedelta(seconds=rng.randrange(days * 86400))
    pool = skus if rng.random() < 0.04 else known
    items = [(sku, rng.choice((1, 1, 1, 2))) for sku in rng.sample(pool, rng.choice(line_counts))]
    late = timedelta(hours=12) if rng.random() < 0.05 else timedelta(minutes=rng.uniform(1, 10))
    return created, items, late


class AcceptFirstTimeline(_Plan):
    """``orders_per_day`` orders a day of an accept-first channel (statuses in the sandbox's
    neutral words: ``waiting``, ``cancelled``); country FR, merchant-fulfilled."""

    def __init__(self, start: datetime, days: int, orders_per_day: int, seed: int = 7):
        self.start, self.days, self.end = start, days, start + timedelta(days=days)
        rng = random.Random(f"accept-first:{seed}")
        self.orders = []
        for n in range(days * orders_per_day):
            created, items, late = _accept_first_draw(rng, start, days, (1, 1, 2))
            order = PlannedOrder(f"{created:%y%m%d}{n:05d}SIM", "FR", "MERCHANT", created, created + late, items)
            order.history = [(created, "waiting")]
            if rng.random() < 0.04:  # the buyer cancels: while waiting, or after the order was imported
                order.history.append((created + timedelta(hours=rng.uniform(0.5, 30)), "cancelled"))
            self.orders.append(order)


class LengowTimeline(_Plan):
    """``orders_per_day`` orders a day of one marketplace of a Lengow account (sandbox words:
    ``new``, ``waiting``, ``cancelled``; ``importable`` and ``shipped`` for the orders the
    marketplace delivers itself, ``fulfilled_by`` ``MARKETPLACE``); country FR."""

    def __init__(self, start: datetime, days: int, orders_per_day: int, seed: int = 7, marketplace: str = "amazon_fr"):
        self.start, self.days, self.end, self.marketplace = start, days, start + timedelta(days=days), marketplace
        rng = random.Random(f"lengow:{marketplace}:{seed}")
        self.orders = []
        for n in range(days * orders_per_day):
            created, items, late = _accept_first_draw(rng, start, days, (1, 1, 2, 3))
            oid = f"LG{created:%y%m%d}{n:05d}SIM"
            if rng.random() < 0.1:  # delivered by the marketplace from its own stock
                order = PlannedOrder(oid, "FR", "MARKETPLACE", created, created + late, items)
                order.history = [(created, "importable"), (created + timedelta(hours=rng.uniform(2, 30)), "shipped")]
                self.orders.append(order)
                continue
            order = PlannedOrder(oid, "FR", "MERCHANT", created, created + late, items)
            if rng.random() < 0.3:  # the marketplace is still creating it for a few minutes
                order.history = [(created, "new"), (created + timedelta(minutes=rng.uniform(2, 30)), "waiting")]
            else:
                order.history = [(created, "waiting")]
            if rng.random() < 0.04:  # the buyer cancels: while waiting, or after the order was imported
                order.history.append((order.history[-1][0] + timedelta(hours=rng.uniform(0.5, 30)), "cancelled"))
            self.orders.append(order)
