"""The shop store: every read and write the sync steps make in the shop database.

Writes are set-based: one bulk statement per table per page, inside one transaction. Duplicates are
stopped by the unique keys in :mod:`ordersync.shop.schema` with insert-or-ignore, and a per-call
batch token tells which rows this call created, so retries, overlapping windows and concurrent runs
report and move stock for an order only once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from ordersync.model import (
    CancelResult,
    Fulfillment,
    ImportPlan,
    InboxRow,
    ReservationPlan,
    ShipmentToSend,
    StageCounts,
    StagedOrder,
    WriteResult,
)
from ordersync.shop import claims
from ordersync.shop import schema as t
from ordersync.shop.db import StoreBase, insert_ignore, new_token, utcnow


GRID_COLUMNS = (
    "store_name", "buyer_name", "purchase_date", "latest_ship_date", "total", "currency", "is_prime",
    "items_shipped", "items_unshipped",
)


FBA_PLACEHOLDER_SKU = "ORDERSYNC-FBA"

CONFIRMATIONS = claims.ClaimTable(t.shipment_confirmations, done="confirmed", done_at="confirmed_at")


class ShopStore(StoreBase):
    """Reads and writes of the sync steps; one instance per engine, safe to share in a task."""

    # -- products ----------------------------------------------------------------------------

    def add_products(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert catalogue products (sku, name, asin, ean, price, stock); existing SKUs are kept."""
        rows = [{"active": True, "visible": True, "stock": 0, **r} for r in rows]
        with self._tx() as conn:
            insert_ignore(conn, t.products, rows)

    def products_by_sku(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self.products_by("sku", skus)

    def products_by(self, column: str, values: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Products whose ``column`` (sku, ean, supplier_reference, asin) is one of ``values``."""
        wanted = sorted({v for v in values if v})
        if not wanted:
            return {}
        col = t.products.c[column]
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.products).where(col.in_(wanted)).order_by(t.products.c.id)).mappings()
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
                        oc.marketplace == marketplace, oc.country == country, oc.marketplace_order_id.in_(ids)
                    )
                ).scalars()
            )

    # -- lookup: the inbox -------------------------------------------------------------------

    def stage(self, marketplace: str, country: str, orders: Sequence[StagedOrder]) -> StageCounts:
        """Record a page of orders as seen; a changed order goes back to ``new`` for import."""
        return self._retrying(self._stage, marketplace, country, orders)

    def _stage(self, conn: Connection, marketplace: str, country: str, orders: Sequence[StagedOrder]):
        counts = StageCounts()
        if not orders:
            return counts
        now = utcnow()
        batch = new_token()
        ib = t.inbox.c
        latest = {o.order_id: o for o in sorted(orders, key=lambda o: o.last_updated)}
        existing = {
            r.marketplace_order_id: r
            for r in conn.execute(
                select(ib.marketplace_order_id, ib.marketplace_updated_at, ib.marketplace_status).where(
                    ib.marketplace == marketplace,
                    ib.country == country,
                    ib.marketplace_order_id.in_(sorted(latest)),
                )
            )
        }
        fresh = [
            {
                "marketplace": marketplace,
                "country": country,
                "marketplace_order_id": o.order_id,
                "marketplace_status": o.status,
                "fulfillment": o.fulfillment,
                "marketplace_updated_at": o.last_updated,
                "payload": json.dumps(o.payload, sort_keys=True),
                "state": "new",
                "batch": batch,
                "first_seen_at": now,
                "seen_at": now,
                **_grid(o),
            }
            for key, o in sorted(latest.items())
            if key not in existing
        ]
        insert_ignore(conn, t.inbox, fresh)
        counts.new = conn.execute(select(func.count()).where(ib.batch == batch)).scalar_one()
        for key, o in sorted(latest.items()):
            old = existing.get(key)
            if old is None:
                continue
            if o.last_updated > old.marketplace_updated_at or o.status != old.marketplace_status:
                # only move forward: an older copy from an overlapping window never overwrites
                result = conn.execute(
                    update(t.inbox)
                    .where(
                        ib.marketplace == marketplace,
                        ib.country == country,
                        ib.marketplace_order_id == key,
                        ib.marketplace_updated_at <= o.last_updated,
                    )
                    .values(
                        marketplace_status=o.status,
                        fulfillment=o.fulfillment,
                        marketplace_updated_at=o.last_updated,
                        payload=json.dumps(o.payload, sort_keys=True),
                        seen_at=now,
                        state=_restaged_state(ib.state),
                        **_grid(o),
                    )
                )
                counts.changed += result.rowcount
            else:
                counts.unchanged += 1
        return counts

    def inbox_to_import(
        self, marketplace: str, country: str, batch_size: int, order_ids: Iterable[str] | None = None
    ) -> Iterator[list[InboxRow]]:
        """Staged orders with work to do (new, not imported last time, changed after import), in batches.

        Keyset paging on the primary key so rows handled by the current batch never shift the next.
        ``order_ids`` limits the batches to those orders (manual actions).
        """
        ib = t.inbox.c
        last_id = 0
        only = sorted(set(order_ids)) if order_ids is not None else None
        while True:
            query = (
                select(ib.id, ib.marketplace_order_id, ib.marketplace_status, ib.payload, ib.state)
                .where(
                    ib.marketplace == marketplace,
                    ib.country == country,
                    ib.state.in_(("new", "not_imported", "changed")),
                    ib.id > last_id,
                )
                .order_by(ib.id)
                .limit(batch_size)
            )
            if only is not None:
                query = query.where(ib.marketplace_order_id.in_(only))
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last_id = rows[-1].id
            yield [InboxRow(r.marketplace_order_id, r.marketplace_status, json.loads(r.payload), r.state) for r in rows]

    def reset_inbox(self, marketplace: str, country: str, order_ids: Iterable[str]) -> int:
        """Make orders eligible for import again (manual re-import); imported ones stay imported."""
        ids = sorted(set(order_ids))
        if not ids:
            return 0
        ib = t.inbox.c
        with self._tx() as conn:
            return conn.execute(
                update(t.inbox)
                .where(
                    ib.marketplace == marketplace,
                    ib.country == country,
                    ib.marketplace_order_id.in_(ids),
                    ib.state.in_(("skipped", "waiting", "not_imported", "recorded")),
                )
                .values(state="new", note=None)
            ).rowcount

    def set_inbox_state(
        self, marketplace: str, country: str, order_ids: Iterable[str], state: str, note: str | None = None
    ) -> None:
        ids = sorted(set(order_ids))
        if not ids:
            return
        ib = t.inbox.c
        with self._tx() as conn:
            conn.execute(
                update(t.inbox)
                .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(ids))
                .values(state=state, note=note, last_action=note[:255] if note else None)
            )

    # -- import ------------------------------------------------------------------------------

    def write_orders(self, marketplace: str, country: str, plans: Sequence[ImportPlan]) -> WriteResult:
        """Create customers, orders, lines and stock moves for a page, in one transaction.

        Also marks the inbox rows imported and resolves their not-imported entries, so the page is
        all or nothing.
        """
        return self._retrying(self._write_orders, marketplace, country, plans)

    def _write_orders(self, conn: Connection, marketplace: str, country: str, plans: Sequence[ImportPlan]):
        result = WriteResult()
        if not plans:
            return result
        now = utcnow()
        batch = new_token()
        plans = sorted(plans, key=lambda p: p.order.order_id)  # one lock order for every writer

        insert_ignore(
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
                for p in {p.customer_key: p for p in plans}.values()
            ],
        )
        customer_ids = dict(
            conn.execute(
                select(t.customers.c.customer_key, t.customers.c.id).where(
                    t.customers.c.customer_key.in_(sorted({p.customer_key for p in plans}))
                )
            ).all()
        )

        insert_ignore(conn, t.orders, [_order_row(p, customer_ids, batch, now) for p in plans])
        oc = t.orders.c
        created = dict(
            conn.execute(select(oc.marketplace_order_id, oc.id).where(oc.import_batch == batch)).all()
        )
        result.imported = sorted(created)
        result.already = sorted(p.order.order_id for p in plans if p.order.order_id not in created)

        new_plans = [p for p in plans if p.order.order_id in created]
        line_rows = [
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
            for p in new_plans
            for line, product_id, name in zip(
                p.order.lines, p.product_ids, p.line_names or [x.title for x in p.order.lines], strict=True
            )
        ]
        insert_ignore(conn, t.order_lines, line_rows)

        movers = {created[p.order.order_id] for p in new_plans if p.moves_stock}
        # a pending order's reservation turns into its sale: release it in the same transaction
        result.converted = _release_reservations(
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
            lc = t.order_lines.c
            lines = conn.execute(
                select(lc.id, lc.product_id, lc.quantity)
                .where(lc.order_id.in_(sorted(movers)), lc.product_id.is_not(None))
                .order_by(lc.id)
            ).all()
            move_rows = [
                {
                    "product_id": line.product_id,
                    "order_line_id": line.id,
                    "reason": "sale",
                    "quantity": -line.quantity,
                    "batch": batch,
                    "created_at": now,
                }
                for line in lines
            ]
            insert_ignore(conn, t.stock_moves, move_rows)
            result.stock_moves = conn.execute(
                select(func.count()).where(t.stock_moves.c.batch == batch, t.stock_moves.c.reason == "sale")
            ).scalar_one()
        _apply_stock_moves(conn, batch)

        done = [p.order.order_id for p in plans]
        ib = t.inbox.c
        conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(done))
            .values(state="imported", note=None, last_action="imported into the shop")
        )
        ni = t.not_imported.c
        conn.execute(
            update(t.not_imported)
            .where(
                ni.marketplace == marketplace,
                ni.country == country,
                ni.marketplace_order_id.in_(done),
                ni.resolved_at.is_(None),
            )
            .values(resolved_at=now)
        )
        return result

    def record_rejections(self, marketplace: str, country: str, rejections: Sequence[Any]) -> int:
        """Put orders on the not-imported list with their reason (one row per order, kept current)."""
        if not rejections:
            return 0
        return self._retrying(self._record_rejections, marketplace, country, rejections)

    def _record_rejections(self, conn: Connection, marketplace: str, country: str, rejections):
        now = utcnow()
        latest = {r.order_id: r for r in rejections}
        ni = t.not_imported.c
        existing = set(
            conn.execute(
                select(ni.marketplace_order_id).where(
                    ni.marketplace == marketplace,
                    ni.country == country,
                    ni.marketplace_order_id.in_(sorted(latest)),
                )
            ).scalars()
        )
        insert_ignore(
            conn,
            t.not_imported,
            [
                {
                    "marketplace": marketplace,
                    "country": country,
                    "marketplace_order_id": key,
                    "reason": r.reason,
                    "message": r.message,
                    "attempts": 1,
                    "first_failed_at": now,
                    "last_failed_at": now,
                }
                for key, r in sorted(latest.items())
                if key not in existing
            ],
        )
        for key in sorted(existing):
            r = latest[key]
            conn.execute(
                update(t.not_imported)
                .where(ni.marketplace == marketplace, ni.country == country, ni.marketplace_order_id == key)
                .values(
                    reason=r.reason,
                    message=r.message,
                    attempts=ni.attempts + 1,
                    last_failed_at=now,
                    resolved_at=None,
                )
            )
        ib = t.inbox.c
        by_reason: dict[str, list[str]] = {}
        for key, r in latest.items():
            by_reason.setdefault(r.reason, []).append(key)
        for reason, keys in sorted(by_reason.items()):
            conn.execute(
                update(t.inbox)
                .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(sorted(keys)))
                .values(state="not_imported", note=None, last_action=f"not imported: {reason}")
            )
        return len(latest)

    # -- pending orders: reservations ---------------------------------------------------------

    def reserve(self, marketplace: str, country: str, plans: Sequence[ReservationPlan]) -> int:
        """Hold the quantity of pending orders (once per order line); returns lines newly reserved."""
        if not plans:
            return 0
        return self._retrying(self._reserve, marketplace, country, plans)

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
        _apply_stock_moves(conn, batch)
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
        return self._retrying(
            lambda conn: _release_reservations(conn, marketplace, country, ids, new_token(), utcnow(), "released", why)
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

    # -- after import: cancellations and status changes ----------------------------------------

    def cancel_orders(self, marketplace: str, country: str, orders: Sequence[Any], status: str) -> CancelResult:
        """Cancel shop orders cancelled on the marketplace: status, refund, stock back, each once."""
        if not orders:
            return CancelResult()
        return self._retrying(self._cancel_orders, marketplace, country, orders, status)

    def _cancel_orders(self, conn: Connection, marketplace: str, country: str, orders: Sequence[Any], status: str):
        now, batch = utcnow(), new_token()
        result = CancelResult()
        oc, lc, sm = t.orders.c, t.order_lines.c, t.stock_moves.c
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
            pks = [r.id for r in targets]
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
                .where(lc.order_id.in_(pks), sm.reason == "sale")
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
            result.stock_moves = conn.execute(select(func.count()).where(sm.batch == batch)).scalar_one()
            _apply_stock_moves(conn, batch)
            result.cancelled = sorted(r.marketplace_order_id for r in targets)
        ib = t.inbox.c
        conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(ids))
            .values(state="imported", last_action="cancelled on the marketplace: shop order cancelled, stock restored")
        )
        return result

    def update_orders(self, marketplace: str, country: str, orders: Sequence[Any]) -> int:
        """Carry marketplace status changes (e.g. shipped, partially shipped) to imported shop orders."""
        if not orders:
            return 0
        return self._retrying(self._update_orders, marketplace, country, orders)

    def _update_orders(self, conn: Connection, marketplace: str, country: str, orders: Sequence[Any]) -> int:
        from sqlalchemy import bindparam

        oc, ib = t.orders.c, t.inbox.c
        rows = [
            {"oid": o.order_id, "st": o.status.value, "upd": o.last_updated}
            for o in sorted({o.order_id: o for o in orders}.values(), key=lambda o: o.order_id)
        ]
        # one executemany; the guard keeps an older copy from overwriting a newer status
        changed = conn.execute(
            update(t.orders)
            .where(
                oc.marketplace == marketplace,
                oc.country == country,
                oc.marketplace_order_id == bindparam("oid"),
                oc.marketplace_updated_at <= bindparam("upd"),
                oc.cancelled_at.is_(None),
            )
            .values(marketplace_status=bindparam("st"), marketplace_updated_at=bindparam("upd"), updated_at=utcnow()),
            rows,
        ).rowcount
        conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_([r["oid"] for r in rows]))
            .values(state="imported")
        )
        return max(changed, 0)

    # -- fulfillment -------------------------------------------------------------------------

    def shipments_to_confirm(
        self,
        marketplace: str,
        country: str,
        shipped_status: str,
        lease: timedelta = claims.LEASE,
    ) -> list[ShipmentToSend]:
        """Packages the shop shipped with no confirmation yet, plus attempts left in doubt.

        Packages come from ``shop_packages`` (several per order, each with its lines and
        quantities: partial shipments). An order in ``shipped_status`` with a tracking number and
        no package row is one package ``"1"`` holding every line (the single-package shop).

        An attempt is in doubt when it was claimed more than ``lease`` ago and never finished (the
        task died or the marketplace did not answer): it must be checked, not blindly resent.
        """
        oc, sc, lc = t.orders.c, t.shipment_confirmations.c, t.order_lines.c
        pc, pic = t.shop_packages.c, t.shop_package_items.c
        unconfirmed = or_(sc.id.is_(None), claims.in_doubt(t.shipment_confirmations, utcnow(), lease))
        mine = and_(oc.marketplace == marketplace, oc.country == country,
                    oc.fulfillment == Fulfillment.MERCHANT.value)
        packages = (
            select(oc.id, oc.marketplace_order_id, pc.id.label("package_id"), pc.package_ref, pc.carrier,
                   pc.shipping_method, pc.tracking_number, pc.shipped_at, sc.state, sc.claimed_by)
            .select_from(
                t.shop_packages.join(t.orders, oc.id == pc.order_id).outerjoin(
                    t.shipment_confirmations, and_(sc.order_id == oc.id, sc.package_ref == pc.package_ref)
                )
            )
            .where(mine, unconfirmed)
            .order_by(oc.id, pc.id)
        )
        has_package = select(pc.id).where(pc.order_id == oc.id).exists()
        single = (
            select(
                oc.id, oc.marketplace_order_id, oc.carrier, oc.tracking_number, oc.shipped_at, sc.state, sc.claimed_by
            )
            .select_from(
                t.orders.outerjoin(
                    t.shipment_confirmations, and_(sc.order_id == oc.id, sc.package_ref == "1")
                )
            )
            .where(mine, oc.status == shipped_status, oc.tracking_number.is_not(None), ~has_package, unconfirmed)
            .order_by(oc.id)
        )
        out: list[ShipmentToSend] = []
        with self.engine.connect() as conn:
            package_rows = conn.execute(packages).all()
            items: dict[int, list[tuple[str, int]]] = {}
            if package_rows:
                for r in conn.execute(
                    select(pic.package_id, lc.line_id, pic.quantity)
                    .join(t.order_lines, lc.id == pic.order_line_id)
                    .where(pic.package_id.in_([r.package_id for r in package_rows]))
                    .order_by(pic.id)
                ):
                    items.setdefault(r.package_id, []).append((r.line_id, r.quantity))
            for r in package_rows:
                out.append(ShipmentToSend(
                    order_pk=r.id, order_id=r.marketplace_order_id, package_ref=r.package_ref, carrier=r.carrier,
                    tracking_number=r.tracking_number, shipped_at=r.shipped_at,
                    lines=tuple(items.get(r.package_id, ())), in_doubt=r.state == claims.SENDING,
                    claimed_by=r.claimed_by, shipping_method=r.shipping_method,
                ))
            rows = conn.execute(single).all()
            lines: dict[int, list[tuple[str, int]]] = {}
            if rows:
                for r in conn.execute(
                    select(lc.order_id, lc.line_id, lc.quantity)
                    .where(lc.order_id.in_([r.id for r in rows]))
                    .order_by(lc.id)
                ):
                    lines.setdefault(r.order_id, []).append((r.line_id, r.quantity))
        out += [
            ShipmentToSend(
                order_pk=r.id,
                order_id=r.marketplace_order_id,
                package_ref="1",
                carrier=r.carrier,
                tracking_number=r.tracking_number,
                shipped_at=r.shipped_at,
                lines=tuple(lines.get(r.id, ())),
                in_doubt=r.state == claims.SENDING,
                claimed_by=r.claimed_by,
            )
            for r in rows
        ]
        return out

    def add_package(
        self,
        marketplace: str,
        country: str,
        order_id: str,
        package_ref: str,
        tracking_number: str,
        items: Sequence[tuple[str, int]],
        carrier: str | None = None,
        shipping_method: str | None = None,
        shipped_at: datetime | None = None,
    ) -> bool:
        """Record a package the shop shipped: ``items`` are (marketplace line id, quantity).

        What the shop (or its warehouse) calls when it ships; returns ``False`` if the package
        was already recorded, so calling it twice is harmless.
        """
        oc, lc, pc = t.orders.c, t.order_lines.c, t.shop_packages.c
        with self._tx() as conn:
            order_pk = conn.execute(
                select(oc.id).where(oc.marketplace == marketplace, oc.country == country,
                                    oc.marketplace_order_id == order_id)
            ).scalar_one()
            line_pks = dict(conn.execute(select(lc.line_id, lc.id).where(lc.order_id == order_pk)).all())
            unknown = [line for line, _ in items if line not in line_pks]
            if unknown:
                raise ValueError(f"order {order_id} has no line(s) {', '.join(unknown)}")
            insert_ignore(conn, t.shop_packages, [{
                "order_id": order_pk, "package_ref": package_ref, "carrier": carrier,
                "shipping_method": shipping_method, "tracking_number": tracking_number,
                "shipped_at": shipped_at or utcnow(),
            }])
            package_pk = conn.execute(
                select(pc.id).where(pc.order_id == order_pk, pc.package_ref == package_ref)
            ).scalar_one()
            if conn.execute(select(func.count()).select_from(t.shop_package_items)
                            .where(t.shop_package_items.c.package_id == package_pk)).scalar_one():
                return False
            conn.execute(t.shop_package_items.insert(), [
                {"package_id": package_pk, "order_line_id": line_pks[line], "quantity": qty} for line, qty in items
            ])
        return True

    def claim_shipment(self, item: ShipmentToSend, carrier_code: str, carrier_name: str | None) -> str | None:
        """Take the right to send this confirmation; ``None`` if another run holds it.

        New packages are claimed by inserting their row (the unique key lets one run win); a
        package in doubt is re-claimed by compare-and-set on the claim token it was listed with.
        """
        claim = claims.claim(
            self.engine,
            CONFIRMATIONS,
            _key(item),
            {"carrier_code": carrier_code, "carrier_name": carrier_name, "tracking_number": item.tracking_number},
            stale=item.claimed_by,
        )
        return claim.token if claim else None

    def finish_shipment(self, item: ShipmentToSend, token: str, state: str, message: str | None = None) -> None:
        """Record the outcome of a claimed confirmation: ``confirmed``, ``rejected`` or ``sending``.

        ``sending`` with an old claim time hands an unknown outcome to the next run to verify.
        """
        claims.finish(self.engine, CONFIRMATIONS, _key(item), token, state, message)

    def reset_rejected_shipments(self, marketplace: str, country: str, order_ids: Iterable[str]) -> int:
        """Forget refused confirmations of these orders so the next fulfillment sends them again.

        Only ``rejected`` rows: a confirmed package is never sent twice, one being sent is left alone.
        """
        ids = sorted(set(order_ids))
        if not ids:
            return 0
        oc, sc = t.orders.c, t.shipment_confirmations.c
        pks = select(oc.id).where(oc.marketplace == marketplace, oc.country == country, oc.marketplace_order_id.in_(ids))
        with self._tx() as conn:
            return conn.execute(
                t.shipment_confirmations.delete().where(sc.order_id.in_(pks), sc.state == "rejected")
            ).rowcount

    def set_shop_order_number(self, marketplace: str, country: str, order_id: str, number: str) -> int:
        """Map a marketplace order to the shop's own order number (manual re-synchronisation)."""
        oc = t.orders.c
        with self._tx() as conn:
            return conn.execute(
                update(t.orders)
                .where(oc.marketplace == marketplace, oc.country == country, oc.marketplace_order_id == order_id)
                .values(shop_order_number=number, updated_at=utcnow())
            ).rowcount

    # -- runs and summaries ------------------------------------------------------------------

    def record_run(
        self,
        entry: Any,
        step: str,
        run_id: str,
        counts: dict[str, Any],
        window: Any = None,
    ) -> None:
        """Keep one row per (entry, step, run): a retried task overwrites, never duplicates."""
        sr = t.sync_runs.c
        values = {
            "marketplace": entry.marketplace,
            "country": entry.country,
            "entry": entry.key,
            "step": step,
            "run_id": run_id,
            "window_start": window.start if window else None,
            "window_end": window.end if window else None,
            "counts": json.dumps(counts, sort_keys=True),
            "finished_at": utcnow(),
        }
        state = {"lookup": "last_lookup_at", "import": "last_import_at", "fulfillment": "last_fulfillment_at"}
        with self._tx() as conn:
            insert_ignore(conn, t.sync_runs, [values])
            conn.execute(
                update(t.sync_runs)
                .where(sr.entry == entry.key, sr.step == step, sr.run_id == run_id)
                .values(**values)
            )
            if step in state:
                ss = t.sync_state.c
                insert_ignore(
                    conn, t.sync_state, [{"entry": entry.key, "marketplace": entry.marketplace, "country": entry.country}]
                )
                changes = {state[step]: values["finished_at"]}
                if step == "lookup" and window is not None:
                    changes["last_window_end"] = window.end
                conn.execute(update(t.sync_state).where(ss.entry == entry.key).values(**changes))

    def has_lookup(self, entry_key: str) -> bool:
        """Whether a lookup of this entry ever finished (else the next one onboards the seller)."""
        sr = t.sync_runs.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(sr.id).where(sr.entry == entry_key, sr.step == "lookup").limit(1)
            ).first() is not None


def _key(item: ShipmentToSend) -> dict[str, Any]:
    return {"order_id": item.order_pk, "package_ref": item.package_ref}


def _restaged_state(state_col):
    """An order that changed on the marketplace is looked at again.

    An imported one becomes ``changed``: import then applies a cancellation or a status change
    to the shop order instead of creating one.
    """
    from sqlalchemy import case

    return case((state_col.in_(("imported", "changed")), "changed"), else_="new")


def _grid(o: StagedOrder) -> dict[str, Any]:
    """Every grid column, None where the channel gave nothing (executemany needs equal keys)."""
    return {name: o.grid.get(name) for name in GRID_COLUMNS}


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


def _release_reservations(
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

    The caller applies the batch's moves to product stock. Returns the lines released.
    """
    if not order_ids:
        return 0
    rc = t.reservations.c
    open_rows = conn.execute(
        select(rc.id, rc.product_id, rc.quantity)
        .where(
            rc.marketplace == marketplace,
            rc.country == country,
            rc.marketplace_order_id.in_(sorted(set(order_ids))),
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
        _apply_stock_moves(conn, batch)
    return len(open_rows)


def _apply_stock_moves(conn: Connection, batch: str) -> None:
    """Apply this batch's stock moves to product stock in one statement."""
    sm, pr = t.stock_moves.c, t.products.c
    delta = (
        select(func.coalesce(func.sum(sm.quantity), 0))
        .where(sm.product_id == pr.id, sm.batch == batch)
        .scalar_subquery()
    )
    conn.execute(
        update(t.products)
        .where(pr.id.in_(select(sm.product_id).where(sm.batch == batch)))
        .values(stock=pr.stock + delta)
    )
