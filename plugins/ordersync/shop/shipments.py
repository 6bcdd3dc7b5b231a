"""Shipments: the packages the shop shipped and their confirmations to the marketplace.

Each package is confirmed once through :mod:`ordersync.shop.claims` on ``shipment_confirmations``
(unique per order + package): claimed before it is sent, finished ``confirmed``, ``rejected`` or
``sending`` (unknown outcome, verified on the marketplace after the lease).

What to confirm is found through indexes on what is pending, never by reading past
confirmations: ``confirm_state`` of ``orders`` and ``shop_packages`` stays NULL until the package
is claimed (a bookmark only: the claim's unique key still decides), and attempts in doubt come
from the ``sending`` rows of ``shipment_confirmations``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, and_, case, func, or_, select, update

from ordersync.model import Fulfillment, ShipmentToSend
from ordersync.shop import claims
from ordersync.shop import schema as t
from ordersync.shop.db import StoreBase, insert_ignore, utcnow

if TYPE_CHECKING:
    from ordersync.shop.store import ShopStore

CONFIRMATIONS = claims.ClaimTable(t.shipment_confirmations, done="confirmed", done_at="confirmed_at")


class Shipments(StoreBase):
    """Packages, shipments to confirm and their claims, refused confirmations reset."""

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
        oc, sc = t.orders.c, t.shipment_confirmations.c
        doubt = claims.in_doubt(t.shipment_confirmations, utcnow(), lease)
        mine = and_(oc.marketplace == marketplace, oc.country == country,
                    oc.fulfillment == Fulfillment.MERCHANT.value)

        def listing(conn: Connection) -> tuple[list[ShipmentToSend], list[ShipmentToSend]]:
            _bookmark_packaged(conn, marketplace, country, shipped_status)
            packages = _packages(conn, mine, and_(t.shop_packages.c.confirm_state.is_(None), sc.id.is_(None)))
            packages += _packages(conn, mine, doubt)
            singles = _single_packages(conn, mine, and_(oc.confirm_state.is_(None), sc.id.is_(None)), shipped_status)
            singles += _single_packages(conn, mine, doubt, shipped_status)
            return packages, singles

        packages, singles = self.transaction(listing)  # the bookmarks are written: redone on a deadlock
        by_order = lambda item: item.order_pk  # noqa: E731 - the order both queries listed in
        return sorted(packages, key=by_order) + sorted(singles, key=by_order)

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

        def write(conn: Connection) -> bool:
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
            conn.execute(update(t.orders).where(oc.id == order_pk, oc.confirm_state.is_(None))
                         .values(confirm_state="packages"))
            return True

        return self.transaction(write)

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
        _bookmark_claimed(self, item)
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
        pc = t.shop_packages.c

        def reset(conn: Connection) -> int:
            refused = conn.execute(
                select(sc.order_id, sc.package_ref).where(sc.order_id.in_(pks), sc.state == "rejected")
            ).all()
            for order_pk, package_ref in refused:  # pending again: back in the bookmarks' range
                conn.execute(update(t.shop_packages).where(pc.order_id == order_pk, pc.package_ref == package_ref)
                             .values(confirm_state=None))
                if package_ref == "1":
                    conn.execute(update(t.orders).where(oc.id == order_pk).values(confirm_state=None))
            return conn.execute(
                t.shipment_confirmations.delete().where(sc.order_id.in_(pks), sc.state == "rejected")
            ).rowcount

        return self.transaction(reset)


def _key(item: ShipmentToSend) -> dict[str, Any]:
    return {"order_id": item.order_pk, "package_ref": item.package_ref}


def _bookmark_claimed(store: StoreBase, item: ShipmentToSend) -> None:
    """The package has a claim row now (this run's or another's): out of the pending range.

    After the claim, not with it: a crash in between only leaves the package in the range, where
    the claim row still keeps it from being listed."""
    oc, pc = t.orders.c, t.shop_packages.c

    def bookmark(conn: Connection) -> None:
        conn.execute(update(t.shop_packages)
                     .where(pc.order_id == item.order_pk, pc.package_ref == item.package_ref, pc.confirm_state.is_(None))
                     .values(confirm_state="claimed"))
        if item.package_ref == "1":
            conn.execute(update(t.orders).where(oc.id == item.order_pk, oc.confirm_state.is_(None))
                         .values(confirm_state="claimed"))

    store.transaction(bookmark)


def _bookmark_packaged(conn: Connection, marketplace: str, country: str, shipped_status: str) -> None:
    """Orders in ``shipped_status`` still bookmarked pending that the status path never confirms
    (shipped as package rows written without ``add_package``, or shipped by the marketplace)."""
    oc, pc = t.orders.c, t.shop_packages.c
    pending = (oc.marketplace == marketplace, oc.country == country, oc.status == shipped_status,
               oc.confirm_state.is_(None))
    merchant = oc.fulfillment == Fulfillment.MERCHANT.value
    conn.execute(
        update(t.orders)
        .where(*pending, or_(~merchant, select(pc.id).where(pc.order_id == oc.id).exists()))
        .values(confirm_state=case((merchant, "packages"), else_="marketplace"))
    )


def _packages(conn: Connection, mine, unconfirmed) -> list[ShipmentToSend]:
    """Recorded packages (``shop_packages``) to confirm, with their lines and quantities.

    ``unconfirmed``: pending (bookmark NULL, no claim row) or in doubt, one query each so each
    reads its own index."""
    oc, sc, lc = t.orders.c, t.shipment_confirmations.c, t.order_lines.c
    pc, pic = t.shop_packages.c, t.shop_package_items.c
    query: Select = (
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
    rows = conn.execute(query).all()
    items: dict[int, list[tuple[str, int]]] = {}
    if rows:
        for r in conn.execute(
            select(pic.package_id, lc.line_id, pic.quantity)
            .join(t.order_lines, lc.id == pic.order_line_id)
            .where(pic.package_id.in_([r.package_id for r in rows]))
            .order_by(pic.id)
        ):
            items.setdefault(r.package_id, []).append((r.line_id, r.quantity))
    return [
        ShipmentToSend(
            order_pk=r.id, order_id=r.marketplace_order_id, package_ref=r.package_ref, carrier=r.carrier,
            tracking_number=r.tracking_number, shipped_at=r.shipped_at,
            lines=tuple(items.get(r.package_id, ())), in_doubt=r.state == claims.SENDING,
            claimed_by=r.claimed_by, shipping_method=r.shipping_method,
        )
        for r in rows
    ]


def _single_packages(conn: Connection, mine, unconfirmed, shipped_status: str) -> list[ShipmentToSend]:
    """Orders in ``shipped_status`` with a tracking number and no package row: package "1", every line."""
    oc, sc, lc, pc = t.orders.c, t.shipment_confirmations.c, t.order_lines.c, t.shop_packages.c
    has_package = select(pc.id).where(pc.order_id == oc.id).exists()
    query = (
        select(oc.id, oc.marketplace_order_id, oc.carrier, oc.tracking_number, oc.shipped_at, sc.state, sc.claimed_by)
        .select_from(
            t.orders.outerjoin(t.shipment_confirmations, and_(sc.order_id == oc.id, sc.package_ref == "1"))
        )
        .where(mine, oc.status == shipped_status, oc.tracking_number.is_not(None), ~has_package, unconfirmed)
        .order_by(oc.id)
    )
    rows = conn.execute(query).all()
    lines: dict[int, list[tuple[str, int]]] = {}
    if rows:
        for r in conn.execute(
            select(lc.order_id, lc.line_id, lc.quantity).where(lc.order_id.in_([r.id for r in rows])).order_by(lc.id)
        ):
            lines.setdefault(r.order_id, []).append((r.line_id, r.quantity))
    return [
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


# -- Lengow: shipment actions the marketplace acknowledges later --------------------------------

ACKNOWLEDGED = "acknowledged by the marketplace"


def unacknowledged_shipments(store: ShopStore, marketplace: str, country: str) -> dict[str, int]:
    """Confirmed packages whose action the marketplace has not acknowledged yet: order id -> shop pk.

    A Lengow ship action is ``confirmed`` once Lengow queued it; its ``message`` stays empty until
    the marketplace acknowledges it (then :data:`ACKNOWLEDGED`), or it turns ``rejected``.
    """
    oc, sc = t.orders.c, t.shipment_confirmations.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(oc.marketplace_order_id, oc.id)
            .select_from(t.shipment_confirmations.join(t.orders, oc.id == sc.order_id))
            .where(oc.marketplace == marketplace, oc.country == country, sc.state == "confirmed", sc.message.is_(None))
        ).all()
    return {r.marketplace_order_id: r.id for r in rows}


def settle_shipments(store: ShopStore, acknowledged: list[int], refused: dict[int, str]) -> None:
    """Mark acknowledged packages, and packages the marketplace never acknowledged as rejected
    (``v_not_shipped`` shows them with Lengow's message; ``resend_fulfillment`` sends them again)."""
    sc = t.shipment_confirmations.c

    def settle(conn: Connection) -> None:
        if acknowledged:
            conn.execute(
                update(t.shipment_confirmations)
                .where(sc.order_id.in_(sorted(acknowledged)), sc.state == "confirmed", sc.message.is_(None))
                .values(message=ACKNOWLEDGED)
            )
        for pk, message in sorted(refused.items()):
            conn.execute(
                update(t.shipment_confirmations)
                .where(sc.order_id == pk, sc.state == "confirmed", sc.message.is_(None))
                .values(state="rejected", message=message[:2000], confirmed_at=None)
            )

    store.transaction(settle)
