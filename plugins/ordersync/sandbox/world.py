"""The sandbox's state: a deterministic set of Amazon orders, a movable clock, tokens and counters.

Orders are kept as dicts in the wire shape of the Orders API v2026-01-01 with every dataset filled
in; the HTTP layer only removes what the caller did not ask for. The same seed and anchor always
give byte-identical orders. All public methods take the lock and hand out deep copies.
"""

from __future__ import annotations

import copy
import random
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync.marketplaces import BY_MARKETPLACE_ID, AmazonMarketplace, amazon_marketplace
from ordersync.sandbox.amazon_orders import (  # noqa: F401 - re-exported: the sandbox modules import them from here
    OrderFactory,
    product_fields,
    apply_status,
    deep_merge,
    FULFILLED_BY,
    FULFILLMENT_STATUSES,
    iso,
    local_price,
    money,
    OPERATIONS,
    parse_time,
    RejectedError,
)
from ordersync.sandbox.catalog import BY_SKU, CATALOG, SHOP_MISSING_SKUS, Product


class World:
    """The marketplace: orders per marketplace, a clock, LWA tokens, confirmations and counters."""

    def __init__(self, seed: int = 42, days: int = 3, orders_per_day: int = 40,
                 countries: Iterable[str] = ("IT", "FR", "DE"), anchor: datetime | None = None):
        self.seed, self.days, self.orders_per_day = seed, days, orders_per_day
        self.marketplaces = list({amazon_marketplace(c).marketplace_id: amazon_marketplace(c)
                                  for c in countries}.values())
        if anchor is None:
            anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        anchor = anchor.replace(tzinfo=UTC) if anchor.tzinfo is None else anchor.astimezone(UTC)
        self.anchor = anchor.replace(microsecond=0)
        self._lock = threading.RLock()
        self._tokens: dict[str, datetime] = {}  # kept across reset so clients stay logged in
        self.page_secret = secrets.token_bytes(16)
        self.reset()

    # -- lifecycle and clock -------------------------------------------------------------------

    def reset(self) -> None:
        """Regenerate the orders from the seed; clear clock offset, counters and confirmations."""
        with self._lock:
            self._offset = timedelta(0)
            self._counts: Counter[str] = Counter()
            self._confirmations: list[dict] = []
            self._factory = OrderFactory(random.Random(self.seed))
            self._orders: dict[str, dict] = {}
            for marketplace in self.marketplaces:
                for order in self._generate(marketplace):
                    self._orders[order["orderId"]] = order

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            return self.now()

    # -- generation ----------------------------------------------------------------------------

    def _generate(self, marketplace: AmazonMarketplace) -> list[dict]:
        rng, factory, anchor = self._factory.rng, self._factory, self.anchor
        span = self.days * 86400
        count = self.days * self.orders_per_day
        moments = sorted(anchor - timedelta(seconds=rng.randrange(60, span)) for _ in range(count))
        products = list(CATALOG)
        # Marketplace-only products show up now and then, best sellers more often.
        weights = [0.3 if p.sku in SHOP_MISSING_SKUS else (3.0 if i < 6 else 1.0) for i, p in enumerate(products)]
        orders = []
        for created in moments:
            count = rng.choice((1, 1, 1, 1, 2, 2, 3))
            chosen: list[Product] = []
            while len(chosen) < count:
                pick = rng.choices(products, weights)[0]
                if pick not in chosen:
                    chosen.append(pick)
            lines = [(product_fields(p, marketplace.currency), rng.choice((1, 1, 1, 1, 2, 2, 3))) for p in chosen]
            fulfilled_by = "AMAZON" if rng.random() < 0.25 else "MERCHANT"
            prime = rng.random() < (0.6 if fulfilled_by == "AMAZON" else 0.08)
            expedited = rng.random() < 0.15
            status, changed = self._history(rng, created, fulfilled_by, sum(q for _, q in lines))
            order = factory.build(marketplace, created, changed, fulfilled_by, lines, prime, expedited)
            apply_status(order, status)
            if fulfilled_by == "MERCHANT" and status in ("SHIPPED", "PARTIALLY_SHIPPED"):
                shipped = [(i["orderItemId"], i["fulfillment"]["quantityFulfilled"]) for i in order["orderItems"]]
                state = "DELIVERED" if anchor - changed > timedelta(days=2) else "IN_TRANSIT"
                order["packages"] = [factory.package(marketplace, changed, shipped, state)]
            orders.append(order)
        return orders

    def _history(self, rng: random.Random, created: datetime, fulfilled_by: str, units: int) -> tuple[str, datetime]:
        """The status an order has reached by the anchor, and when it last changed."""
        anchor = self.anchor
        age = anchor - created
        if fulfilled_by == "AMAZON":  # FBA orders are read-only and already shipped
            return "SHIPPED", min(created + timedelta(hours=rng.uniform(2, 30)), anchor)
        r, recent = rng.random(), age < timedelta(days=2)
        if r < 0.04:
            status = "CANCELLED"
        elif age < timedelta(hours=6) and r < 0.30:
            status = "PENDING"
        elif r < 0.14 and units > 1:
            status = "PARTIALLY_SHIPPED"
        elif recent:  # most recent orders still wait for the merchant, a few fast ones shipped
            status = "SHIPPED" if r < 0.22 else "UNSHIPPED"
        else:  # older ones are mostly shipped, some are late
            status = "UNSHIPPED" if r < 0.16 else "SHIPPED"
        if status == "PENDING":
            delay = timedelta(0)
        elif status in ("CANCELLED", "UNSHIPPED"):  # cancelled within hours, accepted within the hour
            delay = timedelta(minutes=rng.uniform(10, 720) if status == "CANCELLED" else rng.uniform(5, 60))
        else:
            delay = timedelta(hours=rng.uniform(3, 30 if recent else 40))
        if created + delay > anchor:
            # The change has not happened yet: the order is still where it was before it.
            if status in ("SHIPPED", "PARTIALLY_SHIPPED") and created + timedelta(minutes=60) <= anchor:
                return "UNSHIPPED", created + timedelta(minutes=rng.uniform(5, 60))
            return "PENDING", created
        return status, created + delay

    # -- queries -------------------------------------------------------------------------------

    def orders(self, marketplace_id: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._orders.values()
                    if marketplace_id is None or _get(o, "salesChannel", "marketplaceId") == marketplace_id]

    def get_order(self, order_id: str) -> dict | None:
        with self._lock:
            order = self._orders.get(order_id)
            return copy.deepcopy(order) if order is not None else None

    def search(self, field: str, after: datetime, before: datetime, statuses: set[str] | None,
               marketplace_ids: set[str] | None, fulfilled_by: set[str] | None,
               after_key: tuple[datetime, str] | None = None, limit: int | None = None) -> tuple[list[dict], bool]:
        """Orders whose ``field`` time lies in [after, before], sorted by that time then order id,
        starting after ``after_key``; at most ``limit`` of them (copied), and whether more match."""
        found = []
        with self._lock:
            for order in self._orders.values():
                try:
                    moment = parse_time(str(order.get(field)))
                except (TypeError, ValueError):
                    continue  # a deliberately broken order cannot match a time window
                if not after <= moment <= before:
                    continue
                if after_key is not None and (moment, str(order.get("orderId"))) <= after_key:
                    continue
                if statuses and _get(order, "fulfillment", "fulfillmentStatus") not in statuses:
                    continue
                if marketplace_ids and _get(order, "salesChannel", "marketplaceId") not in marketplace_ids:
                    continue
                if fulfilled_by and _get(order, "fulfillment", "fulfilledBy") not in fulfilled_by:
                    continue
                found.append((moment, str(order.get("orderId")), order))
            found.sort(key=lambda entry: entry[:2])
            page = found if limit is None else found[:limit]
            # copy only the page: copying every match made each request cost O(all orders)
            return [copy.deepcopy(order) for _, _, order in page], len(found) > len(page)

    # -- test controls -------------------------------------------------------------------------

    def add_order(self, spec: dict) -> dict:
        """Create an order from minimal fields (see the admin API); returns it in full."""
        with self._lock:
            if "marketplaceId" in spec:
                marketplace = BY_MARKETPLACE_ID.get(spec["marketplaceId"])
                if marketplace is None:
                    raise ValueError(f"unknown marketplaceId {spec['marketplaceId']!r}")
            else:
                marketplace = amazon_marketplace(spec.get("country", self.marketplaces[0].country))
            status = spec.get("fulfillmentStatus") or spec.get("status") or "UNSHIPPED"
            fulfilled_by = spec.get("fulfilledBy", "MERCHANT")
            if status not in FULFILLMENT_STATUSES or fulfilled_by not in FULFILLED_BY:
                raise ValueError(f"bad status {status!r} or fulfilledBy {fulfilled_by!r}")
            now = self.now().replace(microsecond=0)
            created = parse_time(spec["createdTime"]) if spec.get("createdTime") else now
            updated = parse_time(spec["lastUpdatedTime"]) if spec.get("lastUpdatedTime") else max(now, created)
            lines = []
            for item in spec.get("items") or []:
                sku = item.get("sellerSku")
                known = BY_SKU.get(sku)
                fields = product_fields(known, marketplace.currency) if known else {
                    "sellerSku": sku, "asin": "B0" + self._factory.digits("########"),
                    "title": f"Marketplace product {sku or '(no SKU)'}", "unitPrice": "10.00"}
                for key in ("asin", "title", "unitPrice"):
                    if key in item:
                        fields[key] = str(item[key])
                lines.append((fields, int(item.get("quantity", 1))))
            if not lines:
                raise ValueError("an order needs at least one item")
            order = self._factory.build(marketplace, created, updated, fulfilled_by, lines,
                                        prime=bool(spec.get("prime")))
            if spec.get("orderId"):
                order["orderId"] = str(spec["orderId"])
            apply_status(order, status)
            deep_merge(order, spec.get("overrides") or {})
            self._orders[order["orderId"]] = order
            return copy.deepcopy(order)

    def update_order(self, order_id: str, changes: dict) -> dict:
        """Change status and/or raw fields and bump lastUpdatedTime (to now unless given)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            status = changes.get("fulfillmentStatus") or changes.get("status")
            if status is not None:
                if status not in FULFILLMENT_STATUSES:
                    raise ValueError(f"unknown fulfillmentStatus {status!r}")
                apply_status(order, status)
            deep_merge(order, changes.get("overrides") or {})
            when = parse_time(changes["lastUpdatedTime"]) if changes.get("lastUpdatedTime") else self.now()
            order["lastUpdatedTime"] = iso(when)
            return copy.deepcopy(order)

    # -- shipment confirmations ----------------------------------------------------------------

    def confirm_shipment(self, order_id: str, marketplace_id: str, package: dict, record: dict) -> None:
        """Apply a well-formed confirmation or raise :class:`RejectedError`; either way it is recorded."""
        with self._lock:
            try:
                self._apply_confirmation(order_id, marketplace_id, package)
            except RejectedError as rejected:
                status = 404 if rejected.code == "NotFound" else 400
                self.record_confirmation(record, accepted=False, status=status, error=rejected.message)
                raise
            self.record_confirmation(record, accepted=True, status=204)

    def _apply_confirmation(self, order_id: str, marketplace_id: str, package: dict) -> None:
        def invalid(message: str) -> RejectedError:
            return RejectedError("InvalidInput", message)

        order = self._orders.get(order_id)
        if order is None:
            raise RejectedError("NotFound", f"Order {order_id} was not found.")
        if _get(order, "salesChannel", "marketplaceId") != marketplace_id:
            raise invalid(f"marketplaceId {marketplace_id} does not match the marketplace of order {order_id}.")
        if _get(order, "fulfillment", "fulfilledBy") == "AMAZON":
            raise invalid(f"Order {order_id} is fulfilled by Amazon; the seller cannot confirm its shipment.")
        status = _get(order, "fulfillment", "fulfillmentStatus")
        if status in ("PENDING", "PENDING_AVAILABILITY", "CANCELLED", "UNFULFILLABLE"):
            raise invalid(f"Order {order_id} is {status} and cannot be shipped.")
        ref = package["packageReferenceId"]
        if any(p.get("packageReferenceId") == ref for p in order.get("packages", [])):
            raise invalid(f"Package {ref} was already confirmed for order {order_id}.")
        items = {i.get("orderItemId"): i for i in order.get("orderItems", [])}
        for line in package["orderItems"]:
            item_id, qty = line["orderItemId"], line["quantity"]
            if item_id not in items:
                raise invalid(f"orderItemId {item_id} is not part of order {order_id}.")
            open_qty = _get(items[item_id], "fulfillment", "quantityUnfulfilled") or 0
            if qty > open_qty:
                raise invalid(f"quantity {qty} for orderItemId {item_id} exceeds the {open_qty} unit(s) still to ship.")
        for line in package["orderItems"]:
            state = items[line["orderItemId"]].setdefault("fulfillment", {})
            state["quantityFulfilled"] = state.get("quantityFulfilled", 0) + line["quantity"]
            state["quantityUnfulfilled"] = state.get("quantityUnfulfilled", 0) - line["quantity"]
        remaining = sum(_get(i, "fulfillment", "quantityUnfulfilled") or 0 for i in items.values())
        order.setdefault("fulfillment", {})["fulfillmentStatus"] = "PARTIALLY_SHIPPED" if remaining else "SHIPPED"
        now = iso(self.now())
        entry = {"packageReferenceId": ref, "createdTime": now, "packageStatus": {"status": "SHIPPED"},
                 "carrier": package["carrierName"] if package["carrierCode"] == "Other" else package["carrierCode"],
                 "shipTime": iso(package["shipDate"])}
        if package.get("shippingMethod"):
            entry["shippingService"] = package["shippingMethod"]
        entry["trackingNumber"] = package["trackingNumber"]
        entry["packageItems"] = [dict(line) for line in package["orderItems"]]
        order.setdefault("packages", []).append(entry)
        order["lastUpdatedTime"] = now

    def record_confirmation(self, record: dict, accepted: bool, status: int, error: str | None = None) -> None:
        """Keep every confirmShipment call, accepted or not, so tests can spot duplicates."""
        with self._lock:
            self._confirmations.append({**record, "receivedAt": iso(self.now()), "accepted": accepted,
                                        "statusCode": status, "error": error})

    def confirmations(self, order_id: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._confirmations if order_id is None or c.get("orderId") == order_id]

    # -- tokens and counters -------------------------------------------------------------------

    def issue_token(self, lifetime_seconds: int) -> str:
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = self.now() + timedelta(seconds=lifetime_seconds)
        return token

    def token_state(self, token: str | None) -> str:
        """``valid``, ``expired`` or ``unknown`` (against the world clock, so tests can age tokens)."""
        with self._lock:
            expires = self._tokens.get(token or "")
            if expires is None:
                return "unknown"
            return "valid" if self.now() < expires else "expired"

    def count(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {op: self._counts[op] for op in OPERATIONS}


def _get(mapping: Any, *path: str) -> Any:
    """Nested lookup that tolerates missing or malformed levels (tests craft broken orders)."""
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping

