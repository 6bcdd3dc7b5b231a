"""Import rules: which marketplace orders become shop orders, and how.

Pure functions over the channel-neutral model and a product catalogue, so they test without a
database or a marketplace. The store only writes what these rules decided. Every setting a
merchant knows from shop plugins (SKU source, ASIN first, unavailable products, FBA, fake e-mail
and tax id, statuses, carriers, record-only) is applied here and nowhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ordersync.model import ImportPlan, MarketplaceOrder, OrderStatus, Rejection, ReservationPlan

IMPORTABLE = frozenset({OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED})
FAKE_TAX_ID = "00000"
FAKE_EMAIL_DOMAIN = "marketplace.invalid"  # RFC 2606: can never deliver
FBA_PREFIX = "{FBA} "


@dataclass(frozen=True)
class Catalog:
    """The shop products a page of orders may match, by the entry's SKU source and by ASIN."""

    by_key: Mapping[str, Mapping[str, Any]]
    by_asin: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    placeholder: Mapping[str, Any] | None = None  # hidden product for unmatched FBA lines

    def match(self, sku: str | None, asin: str | None, asin_first: bool) -> Mapping[str, Any] | None:
        """ASIN first when asked (falling back to the SKU source), else the SKU source only."""
        if asin_first and asin and asin in self.by_asin:
            return self.by_asin[asin]
        return self.by_key.get(sku) if sku else None


@dataclass
class Decisions:
    plans: list[ImportPlan] = field(default_factory=list)
    reservations: list[ReservationPlan] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)  # (order id, why) reservations to restore
    cancels: list[MarketplaceOrder] = field(default_factory=list)  # imported, then cancelled on the marketplace
    updates: list[MarketplaceOrder] = field(default_factory=list)  # imported, then changed on the marketplace
    rejected: list[Rejection] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (order id, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (order id, why)
    recorded: list[tuple[str, str]] = field(default_factory=list)  # record-only entries


def customer_key(order: MarketplaceOrder) -> str:
    """One shop customer per buyer and channel; a digest keeps the key free of personal data."""
    who = (order.buyer_email or f"order:{order.order_id}").strip().lower()
    return f"{order.marketplace}:{hashlib.sha256(who.encode()).hexdigest()[:40]}"


def customer_email(order: MarketplaceOrder, entry: Any) -> str | None:
    """The buyer's marketplace e-mail, or with ``fake_email`` an undeliverable stand-in."""
    if not entry.fake_email:
        return order.buyer_email
    return f"{customer_key(order).split(':', 1)[1][:24]}@{order.marketplace}.{FAKE_EMAIL_DOMAIN}"


def decide(
    orders: Sequence[MarketplaceOrder],
    catalog: Catalog | Mapping[str, Mapping[str, Any]],
    entry: Any,
    imported: frozenset[str] | set[str] = frozenset(),
) -> Decisions:
    """Sort a page of orders into what the store must do with each.

    ``imported`` holds the ids of orders already in the shop: for them only cancellations and
    status changes matter, never a second order.
    """
    if not isinstance(catalog, Catalog):
        catalog = Catalog(by_key=catalog)
    out = Decisions()
    for order in orders:
        if order.order_id in imported:
            (out.cancels if order.status is OrderStatus.CANCELLED else out.updates).append(order)
            continue
        if order.status is OrderStatus.CANCELLED:
            out.skipped.append((order.order_id, "cancelled before import"))
            out.releases.append((order.order_id, "cancelled before import"))
            continue
        if order.is_fba:
            _decide_fba(order, catalog, entry, out)
            continue
        if order.status is OrderStatus.WAITING_ACCEPTANCE:
            # accept answers it; the marketplace then moves it to an importable status
            out.waiting.append((order.order_id, "waiting for the seller's acceptance"))
            continue
        if order.status is OrderStatus.AWAITING_RELEASE:
            out.waiting.append((order.order_id, f"not released by the marketplace yet ({order.raw_status})"))
            continue
        if order.status is OrderStatus.PENDING:
            _decide_pending(order, catalog, entry, out)
            continue
        if order.status not in IMPORTABLE:
            out.skipped.append((order.order_id, f"status {order.raw_status or order.status.value} is not imported"))
            continue
        _decide_import(order, catalog, entry, out, fba=False)
    return out


def _decide_fba(order: MarketplaceOrder, catalog: Catalog, entry: Any, out: Decisions) -> None:
    if not entry.import_fba:
        out.skipped.append((order.order_id, "fulfilled by the marketplace (FBA) and import_fba is off"))
    elif order.status is not OrderStatus.SHIPPED:
        # Amazon ships FBA orders itself; they are imported once shipped, as a record of the sale
        out.waiting.append((order.order_id, "FBA order not shipped by the marketplace yet"))
    else:
        _decide_import(order, catalog, entry, out, fba=True)


def _decide_pending(order: MarketplaceOrder, catalog: Catalog, entry: Any, out: Decisions) -> None:
    why = "pending: the marketplace has not confirmed payment"
    out.waiting.append((order.order_id, why))
    if not entry.reserve_pending:
        return
    products = [catalog.match(line.sku, line.asin, entry.prioritise_asin) for line in order.lines]
    reservable = [
        (line, product) for line, product in zip(order.lines, products, strict=True) if product and line.quantity > 0
    ]
    if reservable:
        out.reservations.append(
            ReservationPlan(order=order, lines=tuple((line, product["id"], product.get("stock", 0)) for line, product in reservable))
        )


def _decide_import(order: MarketplaceOrder, catalog: Catalog, entry: Any, out: Decisions, fba: bool) -> None:
    if not entry.create_orders:
        out.recorded.append((order.order_id, "recorded for review: the entry does not create shop orders"))
        return
    problem = _problem(order, fba)
    if problem is None:
        products, names, flags, problem = _match_lines(order, catalog, entry, fba)
    if problem is None:
        problem = _unavailable(order, flags, entry)
    tax_id = order.buyer_tax_id
    if problem is None and not tax_id and entry.require_tax_id:
        if entry.fake_tax_id:
            tax_id = FAKE_TAX_ID
        else:
            problem = Rejection(order.order_id, "missing_tax_id",
                                "the shop requires a tax id (DNI) and the order has none; enable fake_tax_id to use 00000")
    if problem is not None:
        out.rejected.append(problem)
        return
    out.plans.append(
        ImportPlan(
            order=order,
            customer_key=customer_key(order),
            customer_email=customer_email(order, entry),
            product_ids=tuple(products),
            moves_stock=not fba,  # the marketplace ships FBA orders from its own stock
            status=entry.fba_order_status if fba else entry.order_status,
            payment_status=entry.payment_status,
            carrier=entry.import_carrier_map.get(order.service_level or "", entry.import_default_carrier),
            line_names=tuple(names),
            flags=tuple(sorted(flags)),
            tax_id=tax_id,
        )
    )


def _match_lines(
    order: MarketplaceOrder, catalog: Catalog, entry: Any, fba: bool
) -> tuple[list[int], list[str], set[str], Rejection | None]:
    """Each line's shop product and line name, the flags they raise, or why the order cannot match."""
    asin_first = entry.fba_asin_first if fba else entry.prioritise_asin
    products: list[int] = []
    names: list[str] = []
    flags: set[str] = set()
    missing: list[str] = []
    for line in order.lines:
        product = catalog.match(line.sku, line.asin, asin_first)
        name = line.title
        if product is None and fba and entry.fba_placeholder and catalog.placeholder is not None:
            product, name = catalog.placeholder, FBA_PREFIX + (line.title or line.sku or line.asin or "")
        if product is None:
            missing.append(line.sku or f"(no SKU, ASIN {line.asin})")
            continue
        if not product.get("active", True):
            flags.add("product_inactive")
        elif not fba and product.get("stock", 0) < line.quantity:
            flags.add("stock_short")
        products.append(product["id"])
        names.append(name)
    if not missing:
        return products, names, flags, None
    source = {"sku": "SKU", "ean": "EAN", "supplier_reference": "supplier reference"}[entry.sku_source]
    return products, names, flags, Rejection(
        order.order_id,
        "no_matching_product",
        f"no shop product with {source} {', '.join(missing)}"
        + (" (nor ASIN)" if asin_first else "")
        + ": add the product (or fix its reference) and the next run imports the order",
    )


def _unavailable(order: MarketplaceOrder, flags: set[str], entry: Any) -> Rejection | None:
    """Out of stock or inactive products: imported and flagged, unless import_unavailable is off."""
    if not flags or entry.import_unavailable:
        return None
    reason = "product_unavailable" if "product_inactive" in flags else "out_of_stock"
    return Rejection(
        order.order_id,
        reason,
        "a product of the order is "
        + ("no longer sold" if reason == "product_unavailable" else "out of stock")
        + " and import_unavailable is off: restock or reactivate it, or turn the setting on",
    )


def _problem(order: MarketplaceOrder, fba: bool) -> Rejection | None:
    if not order.lines:
        return Rejection(order.order_id, "no_lines", "the order has no lines")
    # FBA orders are shipped by the marketplace: the shop does not need their address
    if not fba and (order.ship_to is None or not order.ship_to.line1 or not order.ship_to.city):
        return Rejection(
            order.order_id,
            "missing_address",
            "the shipping address is missing or incomplete (street and city are required)",
        )
    bad_qty = [line.line_id for line in order.lines if line.quantity <= 0]
    if bad_qty:
        return Rejection(order.order_id, "invalid_value", f"quantity must be positive on line(s) {', '.join(bad_qty)}")
    return None


def acceptance(
    order: MarketplaceOrder, catalog: Catalog, entry: Any, committed: dict[int, int] | None = None
) -> tuple[str, str]:
    """Accept or refuse an order waiting for acceptance: ``(decision, reason)``.

    ``accept_policy: stock`` accepts when every line matches an active shop product whose stock,
    less what this run already accepted (``committed``, updated on accept), covers the quantity;
    ``always`` accepts everything. The reason names SKUs and quantities only, never the buyer.
    """
    if entry.accept_policy == "always":
        return "accept", "accept_policy always"
    committed = {} if committed is None else committed
    if not order.lines:
        return "refuse", "the order has no lines"
    needed: dict[int, int] = {}
    for line in order.lines:
        product = catalog.match(line.sku, line.asin, entry.prioritise_asin)
        if line.quantity <= 0:
            return "refuse", f"line {line.line_id}: quantity {line.quantity} is not positive"
        if product is None:
            return "refuse", f"no shop product with SKU {line.sku}"
        if not product.get("active", True):
            return "refuse", f"SKU {line.sku} is no longer sold"
        needed[product["id"]] = needed.get(product["id"], 0) + line.quantity
        available = product.get("stock", 0) - committed.get(product["id"], 0)
        if available < needed[product["id"]]:
            return "refuse", f"SKU {line.sku}: {needed[product['id']]} ordered, {max(available, 0)} in stock"
    for product_id, quantity in needed.items():
        committed[product_id] = committed.get(product_id, 0) + quantity
    return "accept", "every line in stock"
