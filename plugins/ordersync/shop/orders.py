"""Shop orders: the set-based import of a page, then what the marketplace changes afterwards.

Customers, orders, lines and sale moves of a page are bulk inserted with insert-or-ignore on their
unique keys in one transaction (multi-row statements on PostgreSQL, :mod:`ordersync.shop.bulk`), tagged with a batch token so only rows this call created count as
imported and move stock: retries, overlapping windows and concurrent runs import an order once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, or_, select, update

from ordersync.model import CancelResult, Fulfillment, ImportPlan, MarketplaceOrder, WriteResult
from ordersync.shop import schema as t
from ordersync.shop.bulk import insert_ignore_many
from ordersync.shop.db import StoreBase, among, insert_ignore, new_token, utcnow
from ordersync.shop.stock import apply_stock_moves, release_reservations


class Orders(StoreBase):
    """Import, imported ids, status updates, cancellations, the shop's order number."""

    def imported_ids(self, marketplace: str, country: str, order_ids: Iterable[str]) -> set[str]:
        """Which of these marketplace orders already have a shop order."""
        ids = sorted(set(order_ids))
        if not ids:
            return set()
        oc = t.orders.c
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(oc.marketplace_order_id).where(
                        oc.marketplace == marketplace, oc.country == country, among(conn, oc.marketplace_order_id, ids)
                    )
                ).scalars()
            )

    def write_orders(self, marketplace: str, country: str, plans: Sequence[ImportPlan]) -> WriteResult:
        """Create customers, orders, lines and stock moves for a page, in one transaction.

        Also marks the inbox rows imported and resolves their not-imported entries, so the page is
        all or nothing.
        """
        return self.transaction(self._write_orders, marketplace, country, plans)

    def _write_orders(self, conn: Connection, marketplace: str, country: str, plans: Sequence[ImportPlan]):
        result = WriteResult()
        if not plans:
            return result
        now = utcnow()
        batch = new_token()
        plans = sorted(plans, key=lambda p: p.order.order_id)  # one lock order for every writer

        customer_ids = _insert_customers(conn, marketplace, plans, now)
        insert_ignore_many(conn, t.orders, [_order_row(p, customer_ids, batch, now) for p in plans])
        oc = t.orders.c
        created = dict(
            conn.execute(select(oc.marketplace_order_id, oc.id).where(oc.import_batch == batch)).all()
        )
        result.imported = sorted(created)
        result.already = sorted(p.order.order_id for p in plans if p.order.order_id not in created)

        new_plans = [p for p in plans if p.order.order_id in created]
        _insert_lines(conn, new_plans, created)
        movers = {created[p.order.order_id] for p in new_plans if p.moves_stock}
        # a pending order's reservation turns into its sale: release it in the same transaction
        result.converted = release_reservations(
            conn,
            marketplace,
            country,
            [p.order.order_id for p in new_plans if p.moves_stock],
            batch,
            now,
            state="converted",
            note="the order was imported: the reservation became its sale",
        )
        if movers:
            result.stock_moves = _sell(conn, movers, batch, now)
        apply_stock_moves(conn, batch)
        _mark_imported(conn, marketplace, country, [p.order.order_id for p in plans], now)
        return result

    def cancel_orders(
        self, marketplace: str, country: str, orders: Sequence[MarketplaceOrder], status: str
    ) -> CancelResult:
        """Cancel shop orders cancelled on the marketplace: status, refund, stock back, each once."""
        if not orders:
            return CancelResult()
        return self.transaction(self._cancel_orders, marketplace, country, orders, status)

    def _cancel_orders(
        self, conn: Connection, marketplace: str, country: str, orders: Sequence[MarketplaceOrder], status: str
    ) -> CancelResult:
        now, batch = utcnow(), new_token()
        result = CancelResult()
        oc = t.orders.c
        ids = sorted({o.order_id for o in orders})
        targets = conn.execute(
            select(oc.id, oc.marketplace_order_id, oc.total, oc.currency).where(
                oc.marketplace == marketplace,
                oc.country == country,
                oc.marketplace_order_id.in_(ids),
                oc.cancelled_at.is_(None),
            ).order_by(oc.id)
        ).all()
        # one guarded UPDATE per order (cancellations are rare): its row count says whether this
        # call or a concurrent one cancelled it, so refunds and counts happen once
        targets = [
            r
            for r in targets
            if conn.execute(
                update(t.orders)
                .where(oc.id == r.id, oc.cancelled_at.is_(None))
                .values(status=status, cancelled_at=now, marketplace_status="CANCELLED", updated_at=now)
            ).rowcount
            == 1
        ]
        if targets:
            result.stock_moves = _refund_and_restock(conn, targets, batch, now)
            result.cancelled = sorted(r.marketplace_order_id for r in targets)
        ib = t.inbox.c
        conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(ids))
            .values(state="imported", last_action="cancelled on the marketplace: shop order cancelled, stock restored")
        )
        return result

    def update_orders(self, marketplace: str, country: str, orders: Sequence[MarketplaceOrder]) -> int:
        """Carry marketplace status changes (e.g. shipped, partially shipped) to imported shop orders."""
        if not orders:
            return 0
        return self.transaction(self._update_orders, marketplace, country, orders)

    def _update_orders(
        self, conn: Connection, marketplace: str, country: str, orders: Sequence[MarketplaceOrder]
    ) -> int:
        oc, ib = t.orders.c, t.inbox.c
        rows = [
            {"oid": o.order_id, "st": o.status.value, "upd": o.last_updated}
            for o in sorted({o.order_id: o for o in orders}.values(), key=lambda o: o.order_id)
        ]
        # executemany; the guard keeps an older copy from overwriting a newer status. Only a status
        # that really changed counts (a copy read again with the same status is no update); the
        # same status with a newer time only moves the guard's timestamp.
        mine = (oc.marketplace == marketplace, oc.country == country, oc.marketplace_order_id == bindparam("oid"),
                oc.marketplace_updated_at <= bindparam("upd"), oc.cancelled_at.is_(None))
        changed = conn.execute(
            update(t.orders)
            .where(*mine, or_(oc.marketplace_status.is_(None), oc.marketplace_status != bindparam("st")))
            .values(marketplace_status=bindparam("st"), marketplace_updated_at=bindparam("upd"), updated_at=utcnow()),
            rows,
        ).rowcount
        conn.execute(
            update(t.orders).where(*mine, oc.marketplace_updated_at < bindparam("upd"))
            .values(marketplace_updated_at=bindparam("upd")),
            rows,
        )
        conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_([r["oid"] for r in rows]))
            .values(state="imported")
        )
        return max(changed, 0)

    def set_shop_order_number(self, marketplace: str, country: str, order_id: str, number: str) -> int:
        """Map a marketplace order to the shop's own order number (manual re-synchronisation)."""
        oc = t.orders.c
        return self.transaction(lambda conn: conn.execute(
            update(t.orders)
            .where(oc.marketplace == marketplace, oc.country == country, oc.marketplace_order_id == order_id)
            .values(shop_order_number=number, updated_at=utcnow())
        ).rowcount)


# -- the steps of one page's import, in the transaction of write_orders ------------------------


def _insert_customers(conn: Connection, marketplace: str, plans: list[ImportPlan], now: datetime) -> dict[str, int]:
    """One customer per key (existing ones kept); returns customer key -> id."""
    cc = t.customers.c
    keys = sorted({p.customer_key for p in plans})
    known: dict[str, int] = {}
    if conn.dialect.name == "postgresql":
        # returning buyers first: the bulk insert then only meets a key held by a concurrent import.
        # Not on MariaDB: that first read would fix the transaction's snapshot before a concurrent
        # import's customers commit, and the read after the insert would miss them
        known = dict(conn.execute(select(cc.customer_key, cc.id).where(among(conn, cc.customer_key, keys))).all())
    missing = [p for p in {p.customer_key: p for p in plans}.values() if p.customer_key not in known]
    if not missing:
        return known
    insert_ignore_many(
        conn,
        t.customers,
        [
            {
                "customer_key": p.customer_key,
                "marketplace": marketplace,
                "name": p.order.buyer_name,
                "email": p.customer_email,
                "phone": p.order.ship_to.phone if p.order.ship_to else None,
                "tax_id": p.tax_id,
                "created_at": now,
            }
            for p in missing
        ],
    )
    new = sorted(p.customer_key for p in missing)
    return {**known, **dict(conn.execute(select(cc.customer_key, cc.id).where(among(conn, cc.customer_key, new))).all())}


def _order_row(p: ImportPlan, customer_ids: dict[str, int], batch: str, now: datetime) -> dict[str, Any]:
    o = p.order
    a = o.ship_to
    return {
        "marketplace": o.marketplace,
        "country": o.country,
        "marketplace_order_id": o.order_id,
        "customer_id": customer_ids[p.customer_key],
        "status": p.status,
        "payment_status": p.payment_status,
        "flags": ",".join(p.flags) or None,
        "carrier": p.carrier,
        "marketplace_status": o.status.value,
        "fulfillment": o.fulfillment.value,
        # the marketplace ships these: never pending for fulfillment (see shop/shipments.py)
        "confirm_state": None if o.fulfillment is Fulfillment.MERCHANT else "marketplace",
        "purchase_date": o.purchase_date,
        "marketplace_updated_at": o.last_updated,
        "latest_ship_date": o.latest_ship_date,
        "currency": o.currency,
        "total": o.total,
        "is_prime": o.is_prime,
        "service_level": o.service_level,
        "ship_name": a.name if a else None,
        "ship_line1": a.line1 if a else None,
        "ship_line2": a.line2 if a else None,
        "ship_city": a.city if a else None,
        "ship_postal_code": a.postal_code if a else None,
        "ship_region": a.region if a else None,
        "ship_country": a.country_code if a else None,
        "ship_phone": a.phone if a else None,
        "import_batch": batch,
        "imported_at": now,
        "updated_at": now,
    }


def _insert_lines(conn: Connection, plans: list[ImportPlan], created: dict[str, int]) -> None:
    """The lines of the orders this call created, with their shop products and names."""
    insert_ignore_many(
        conn,
        t.order_lines,
        [
            {
                "order_id": created[p.order.order_id],
                "line_id": line.line_id,
                "product_id": product_id,
                "sku": line.sku,
                "asin": line.asin,
                "name": name[:255],
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
            for p in plans
            for line, product_id, name in zip(
                p.order.lines, p.product_ids, p.line_names or [x.title for x in p.order.lines], strict=True
            )
        ],
    )


def _sell(conn: Connection, order_pks: set[int], batch: str, now: datetime) -> int:
    """One ``sale`` move per line of these orders with a product; returns the moves created."""
    lc, sm = t.order_lines.c, t.stock_moves.c
    mine = (among(conn, lc.order_id, sorted(order_pks)), lc.product_id.is_not(None))
    if conn.dialect.name == "postgresql":  # in the server: the lines never travel (INSERT ... SELECT)
        lines = select(lc.product_id, lc.id, literal("sale"), -lc.quantity, literal(batch),
                       literal(now, t.UtcDateTime)).where(*mine).order_by(lc.id)
        # no ON CONFLICT: these lines were created by this transaction, no move can exist for them
        conn.execute(insert(t.stock_moves).from_select(
            ["product_id", "order_line_id", "reason", "quantity", "batch", "created_at"], lines,
        ))
    else:
        rows = conn.execute(select(lc.id, lc.product_id, lc.quantity).where(*mine).order_by(lc.id)).all()
        insert_ignore(conn, t.stock_moves, [
            {"product_id": line.product_id, "order_line_id": line.id, "reason": "sale", "quantity": -line.quantity,
             "batch": batch, "created_at": now}
            for line in rows
        ])
    return conn.execute(select(func.count()).where(sm.batch == batch, sm.reason == "sale")).scalar_one()


def _mark_imported(conn: Connection, marketplace: str, country: str, order_ids: list[str], now: datetime) -> None:
    """The page's inbox rows are imported and their not-imported entries resolved."""
    ib, ni = t.inbox.c, t.not_imported.c
    conn.execute(
        update(t.inbox)
        .where(ib.marketplace == marketplace, ib.country == country, among(conn, ib.marketplace_order_id, order_ids))
        .values(state="imported", note=None, last_action="imported into the shop")
    )
    conn.execute(
        update(t.not_imported)
        .where(
            ni.marketplace == marketplace,
            ni.country == country,
            among(conn, ni.marketplace_order_id, order_ids),
            ni.resolved_at.is_(None),
        )
        .values(resolved_at=now)
    )


def _refund_and_restock(conn: Connection, targets: Sequence[Any], batch: str, now: datetime) -> int:
    """A refund per cancelled order and a ``cancel`` move undoing each sale; returns the moves."""
    lc, sm = t.order_lines.c, t.stock_moves.c
    insert_ignore(
        conn,
        t.refunds,
        [
            {"order_id": r.id, "refund_ref": "cancel", "amount": r.total, "currency": r.currency,
             "reason": "cancelled on the marketplace", "created_at": now}
            for r in targets
        ],
    )
    sold = conn.execute(
        select(sm.product_id, sm.order_line_id, sm.quantity)
        .select_from(t.stock_moves.join(t.order_lines, lc.id == sm.order_line_id))
        .where(lc.order_id.in_([r.id for r in targets]), sm.reason == "sale")
        .order_by(sm.order_line_id)
    ).all()
    insert_ignore(
        conn,
        t.stock_moves,
        [
            {"product_id": m.product_id, "order_line_id": m.order_line_id, "reservation_id": None,
             "reason": "cancel", "quantity": -m.quantity, "batch": batch, "created_at": now}
            for m in sold
        ],
    )
    count = conn.execute(select(func.count()).where(sm.batch == batch)).scalar_one()
    apply_stock_moves(conn, batch)
    return count
