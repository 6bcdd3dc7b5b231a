"""Import rules: which marketplace orders become shop orders, and how.

Pure functions over the channel-neutral model and a product lookup, so they test without a
database or a marketplace. The store only writes what these rules decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ordersync.model import MarketplaceOrder, OrderStatus, Rejection
from ordersync.shop.store import ImportPlan

IMPORTABLE = frozenset({OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED})


@dataclass
class Decisions:
    plans: list[ImportPlan] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (order id, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (order id, why)


def customer_key(order: MarketplaceOrder) -> str:
    """One shop customer per buyer and channel; a digest keeps the key free of personal data."""
    who = (order.buyer_email or f"order:{order.order_id}").strip().lower()
    return f"{order.marketplace}:{hashlib.sha256(who.encode()).hexdigest()[:40]}"


def decide(
    orders: Sequence[MarketplaceOrder],
    products_by_sku: Mapping[str, Mapping[str, Any]],
    entry: Any,
) -> Decisions:
    """Sort a page of orders into plans to write, rejections, orders to wait for and skips."""
    out = Decisions()
    for order in orders:
        if order.status is OrderStatus.PENDING:
            out.waiting.append((order.order_id, "pending: the marketplace has not confirmed payment"))
            continue
        if order.status is OrderStatus.CANCELLED:
            out.skipped.append((order.order_id, "cancelled before import"))
            continue
        if order.is_fba:
            out.skipped.append((order.order_id, "fulfilled by the marketplace (FBA): not imported"))
            continue
        if order.status not in IMPORTABLE:
            out.skipped.append((order.order_id, f"status {order.raw_status or order.status.value} is not imported"))
            continue
        problem = _problem(order, products_by_sku)
        if problem is not None:
            out.rejected.append(problem)
            continue
        out.plans.append(
            ImportPlan(
                order=order,
                customer_key=customer_key(order),
                customer_email=order.buyer_email,
                product_ids=tuple(products_by_sku[line.sku]["id"] for line in order.lines),
                moves_stock=True,
                status=entry.order_status,
            )
        )
    return out


def _problem(order: MarketplaceOrder, products: Mapping[str, Mapping[str, Any]]) -> Rejection | None:
    if not order.lines:
        return Rejection(order.order_id, "no_lines", "the order has no lines")
    if order.ship_to is None or not order.ship_to.line1 or not order.ship_to.city:
        return Rejection(
            order.order_id,
            "missing_address",
            "the shipping address is missing or incomplete (street and city are required)",
        )
    bad_qty = [line.line_id for line in order.lines if line.quantity <= 0]
    if bad_qty:
        return Rejection(order.order_id, "invalid_value", f"quantity must be positive on line(s) {', '.join(bad_qty)}")
    missing = [line.sku or f"(no SKU, ASIN {line.asin})" for line in order.lines if line.sku not in products]
    if missing:
        return Rejection(
            order.order_id,
            "no_matching_product",
            f"no shop product with SKU {', '.join(missing)}: add the product (or fix its SKU) and the next run imports the order",
        )
    return None
