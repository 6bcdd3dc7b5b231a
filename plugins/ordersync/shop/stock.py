"""Products and stock: catalogue lookups, reservations of pending orders, the stock ledger.

A product's stock only changes together with a ``stock_moves`` row (sale, cancel, reserve,
release), applied per batch by :func:`apply_stock_moves`: the ledger explains every unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from ordersync.model import ReservationPlan
from ordersync.shop import schema as t
from ordersync.shop.db import StoreBase, among, insert_ignore, new_token, utcnow

FBA_PLACEHOLDER_SKU = "ORDERSYNC-FBA"


class Stock(StoreBase):
    """Products, reservations and releases."""

    def add_products(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert catalogue products (sku, name, asin, ean, price, stock); existing SKUs are kept."""
        rows = [{"active": True, "visible": True, "stock": 0, **r} for r in rows]

        def write(conn: Connection) -> None:
            insert_ignore(conn, t.products, rows)

        self.transaction(write)

    def products_by_sku(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self.products_by("sku", skus)

    def products_by(self, column: str, values: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Products whose ``column`` (sku, ean, supplier_reference, asin) is one of ``values``."""
        wanted = sorted({v for v in values if v})
        if not wanted:
            return {}
        col = t.products.c[column]
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.products).where(among(conn, col, wanted)).order_by(t.products.c.id)).mappings()
            out: dict[str, dict[str, Any]] = {}
            for r in rows:
                out.setdefault(r[column], dict(r))  # two products sharing an EAN: the oldest wins
            return out

    def fba_placeholder(self) -> dict[str, Any]:
        """The hidden product that FBA lines with no shop product are imported as (created once)."""
        self.add_products(
            [{"sku": FBA_PLACEHOLDER_SKU, "name": "FBA item without a shop product", "stock": 0, "visible": False}]
        )
        return self.products_by_sku([FBA_PLACEHOLDER_SKU])[FBA_PLACEHOLDER_SKU]

    # -- pending orders: reservations ---------------------------------------------------------

    def reserve(self, marketplace: str, country: str, plans: Sequence[ReservationPlan]) -> int:
        """Hold the quantity of pending orders (once per order line); returns lines newly reserved."""
        if not plans:
            return 0
        return self.transaction(self._reserve, marketplace, country, plans)

    def _reserve(self, conn: Connection, marketplace: str, country: str, plans: Sequence[ReservationPlan]) -> int:
        now, batch = utcnow(), new_token()
        insert_ignore(
            conn,
            t.reservations,
            [
                {
                    "marketplace": marketplace,
                    "country": country,
                    "marketplace_order_id": p.order.order_id,
                    "line_id": line.line_id,
                    "product_id": product_id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "available": stock,
                    "state": "reserved",
                    "note": None,
                    "batch": batch,
                    "created_at": now,
                    "updated_at": now,
                }
                for p in sorted(plans, key=lambda p: p.order.order_id)
                for line, product_id, stock in p.lines
            ],
        )
        rc = t.reservations.c
        created = conn.execute(select(rc.id, rc.product_id, rc.quantity).where(rc.batch == batch)).all()
        insert_ignore(
            conn,
            t.stock_moves,
            [
                {"product_id": r.product_id, "order_line_id": None, "reservation_id": r.id, "reason": "reserve",
                 "quantity": -r.quantity, "batch": batch, "created_at": now}
                for r in created
            ],
        )
        apply_stock_moves(conn, batch)
        ib = t.inbox.c
        conn.execute(
            update(t.inbox)
            .where(
                ib.marketplace == marketplace,
                ib.country == country,
                ib.marketplace_order_id.in_(sorted({p.order.order_id for p in plans})),
            )
            .values(last_action="pending: quantity reserved")
        )
        return len(created)

    def release(self, marketplace: str, country: str, order_ids: Iterable[str], why: str) -> int:
        """Restore the reserved quantity of these orders (cancelled before import); returns lines released."""
        ids = sorted(set(order_ids))
        if not ids:
            return 0
        return self.transaction(
            lambda conn: release_reservations(conn, marketplace, country, ids, new_token(), utcnow(), "released", why)
        )

    def release_expired(self, marketplace: str, country: str, older_than: timedelta) -> int:
        """Restore reservations of orders still pending after ``older_than`` (never confirmed)."""
        rc = t.reservations.c
        with self.engine.connect() as conn:
            ids = conn.execute(
                select(rc.marketplace_order_id)
                .where(
                    rc.marketplace == marketplace,
                    rc.country == country,
                    rc.state == "reserved",
                    rc.created_at < utcnow() - older_than,
                )
                .distinct()
            ).scalars().all()
        return self.release(marketplace, country, ids, "expired: still pending after the reservation delay")


def release_reservations(
    conn: Connection,
    marketplace: str,
    country: str,
    order_ids: Sequence[str],
    batch: str,
    now: datetime,
    state: str,
    note: str,
) -> int:
    """Give back the quantity of the orders' open reservations (one ``release`` move each).

    ``state`` is ``released`` (stock applied here) or ``converted`` (the order was imported: the
    caller applies the batch's moves with the sale). Returns the lines released.
    """
    if not order_ids:
        return 0
    rc = t.reservations.c
    open_rows = conn.execute(
        select(rc.id, rc.product_id, rc.quantity)
        .where(
            rc.marketplace == marketplace,
            rc.country == country,
            among(conn, rc.marketplace_order_id, sorted(set(order_ids))),
            rc.state == "reserved",
        )
        .order_by(rc.id)
    ).all()
    if not open_rows:
        return 0
    insert_ignore(
        conn,
        t.stock_moves,
        [
            {"product_id": r.product_id, "order_line_id": None, "reservation_id": r.id, "reason": "release",
             "quantity": r.quantity, "batch": batch, "created_at": now}
            for r in open_rows
        ],
    )
    conn.execute(
        update(t.reservations)
        .where(rc.id.in_([r.id for r in open_rows]), rc.state == "reserved")
        .values(state=state, note=note, updated_at=now)
    )
    if state == "released":
        apply_stock_moves(conn, batch)
    return len(open_rows)


def apply_stock_moves(conn: Connection, batch: str) -> None:
    """Apply this batch's stock moves to product stock in one statement.

    The moves are summed once per product and joined (UPDATE ... FROM on PostgreSQL and SQLite,
    a multi-table UPDATE on MariaDB): a correlated sum per product would read the batch again
    for every product it touches.
    """
    sm, pr = t.stock_moves.c, t.products.c
    delta = (
        select(sm.product_id, func.sum(sm.quantity).label("delta"))
        .where(sm.batch == batch)
        .group_by(sm.product_id)
        .subquery("batch_delta")
    )
    conn.execute(update(t.products).where(pr.id == delta.c.product_id).values(stock=pr.stock + delta.c.delta))
