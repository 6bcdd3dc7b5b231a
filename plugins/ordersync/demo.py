"""Demo helpers: stock the shop with the sandbox's catalogue and play the warehouse shipping.

Used by ``make demo`` and the end-to-end tests; a real shop has its own catalogue and ships
its own orders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore, utcnow


def seed_products(store: ShopStore) -> int:
    """Add the products the demo shop knows (the sandbox sells a few more it does not)."""
    from ordersync.sandbox.catalog import shop_catalog

    rows = [
        {
            "sku": item.product.sku,
            "asin": item.product.asin,
            "ean": item.product.ean,
            "name": item.product.title,
            "price": item.product.price_eur,
            "stock": item.stock,
        }
        for item in shop_catalog()
    ]
    store.add_products(rows)
    return len(rows)


def ship_orders(store: ShopStore, entry: Any, limit: int, carrier: str | None = None) -> list[str]:
    """Mark up to ``limit`` imported merchant orders of the entry as shipped, with tracking numbers."""
    carrier = carrier or next(iter(entry.carrier_map), "courier")
    oc = t.orders.c
    with store.engine.begin() as conn:
        rows = conn.execute(
            select(oc.id, oc.marketplace_order_id)
            .where(
                oc.marketplace == entry.marketplace,
                oc.country == entry.country,
                oc.status == entry.order_status,
                oc.fulfillment == "MERCHANT",
                oc.marketplace_status == "UNSHIPPED",
            )
            .order_by(oc.id)
            .limit(limit)
        ).all()
        now = utcnow()
        for row in rows:
            conn.execute(
                update(t.orders)
                .where(oc.id == row.id)
                .values(
                    status=entry.shipped_status,
                    carrier=carrier,
                    tracking_number=f"{entry.country}{row.id:010d}",
                    shipped_at=now,
                    updated_at=now,
                )
            )
    return [r.marketplace_order_id for r in rows]
