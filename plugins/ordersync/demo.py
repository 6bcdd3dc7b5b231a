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


def sandbox_connections(url: str, shop_path: str | None = None, rate_scale: float = 100) -> dict[str, dict[str, Any]]:
    """The demo's Airflow connections (conn id -> fields), pointing at a sandbox at ``url``.

    These are the sandbox's own demo credentials, not secrets. ``rate_scale`` matches the Amazon
    connection's pacing to a time-scaled sandbox. With ``shop_path`` the SQLite shop database is
    a connection like any other (ordersync has no fallback shop).
    """
    conns: dict[str, dict[str, Any]] = {
        "amazon_eu": {
            "conn_type": "amazon_sp_api", "host": url, "login": "sandbox-client-id", "password": "sandbox-client-secret",
            "extra": {"refresh_token": "sandbox-refresh-token", "lwa_url": f"{url}/auth/o2/token", "rate_scale": rate_scale},
        },
        "cdiscount": {
            "conn_type": "octopia", "host": f"{url}/octopia", "login": "sandbox-octopia-client",
            "password": "sandbox-octopia-secret",
            "extra": {"seller_id": "123456", "token_url": f"{url}/octopia/auth/token"},
        },
        "lengow": {
            "conn_type": "lengow", "host": f"{url}/lengow", "login": "sandbox-lengow-access",
            "password": "sandbox-lengow-secret",
        },
    }
    if shop_path:
        conns["ordersync_shop"] = {"conn_type": "ordersync_shop", "host": shop_path, "extra": {"dialect": "sqlite"}}
    return conns


def install_connections(conns: dict[str, dict[str, Any]]) -> list[str]:
    """Create (or replace) connections in Airflow's metadata database, so the Connections page
    shows them and a user can edit them."""
    import json

    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        for conn_id, fields in conns.items():
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            extra = fields.get("extra")
            session.add(Connection(
                conn_id=conn_id,
                conn_type=fields["conn_type"],
                host=fields.get("host"),
                login=fields.get("login"),
                password=fields.get("password"),
                schema=fields.get("schema"),
                port=fields.get("port"),
                extra=json.dumps(extra) if extra else None,
            ))
    return sorted(conns)
