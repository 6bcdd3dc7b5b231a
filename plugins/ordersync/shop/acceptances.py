"""Acceptance answers of accept-first channels (Cdiscount, Lengow) in the shop database.

An answer is claimed before it is sent through :mod:`ordersync.shop.claims` on ``acceptances``
(unique per order), like shipment confirmations: one run wins, and an attempt whose outcome is
unknown is checked on the marketplace before anything is sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ordersync.model import InboxRow
from ordersync.shop import claims
from ordersync.shop import schema as t
from ordersync.shop.claims import Claim

if TYPE_CHECKING:
    from ordersync.shop.store import ShopStore

__all__ = [
    "ANSWERS", "Claim", "answers", "claim", "finish", "forget_rejected", "mark_rejected",
    "waiting_rows",
]

ANSWERS = claims.ClaimTable(t.acceptances, done="sent", done_at="answered_at")


def waiting_rows(
    store: ShopStore, marketplace: str, country: str, statuses: Iterable[str], order_ids: Iterable[str] | None = None
) -> list[InboxRow]:
    """Staged orders whose marketplace status says they wait for our answer."""
    ib = t.inbox.c
    query = (
        select(ib.marketplace_order_id, ib.marketplace_status, ib.payload, ib.state)
        .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_status.in_(sorted(set(statuses))))
        .order_by(ib.id)
    )
    if order_ids is not None:
        query = query.where(ib.marketplace_order_id.in_(sorted(set(order_ids))))
    with store.engine.connect() as conn:
        return [InboxRow(r.marketplace_order_id, r.marketplace_status, json.loads(r.payload), r.state) for r in conn.execute(query)]


def answers(store: ShopStore, marketplace: str, country: str, order_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The recorded answer (decision, state, claim) of each of these orders that has one."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    ac = t.acceptances.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.acceptances).where(ac.marketplace == marketplace, ac.country == country, ac.marketplace_order_id.in_(ids))
        ).mappings()
        return {r["marketplace_order_id"]: dict(r) for r in rows}


def claim(
    store: ShopStore,
    marketplace: str,
    country: str,
    order_id: str,
    decision: str,
    reason: str | None,
    lease: timedelta = claims.LEASE,
) -> Claim | None:
    """Take the right to send this order's answer; ``None`` when it was answered or another run holds it.

    An attempt left in doubt longer than ``lease`` is taken over (``in_doubt``: verify first).
    """
    key = {"marketplace": marketplace, "country": country, "marketplace_order_id": order_id}
    values = {"decision": decision, "reason": (reason or "")[:255] or None}
    return claims.claim(store.engine, ANSWERS, key, values, lease=lease)


def finish(
    store: ShopStore, marketplace: str, country: str, order_id: str, token: str, state: str, message: str | None = None
) -> None:
    """Record the outcome: ``sent``, ``rejected`` (with the marketplace's message) or ``sending``
    (unknown outcome: the claim is aged so the next run verifies on the marketplace)."""
    key = {"marketplace": marketplace, "country": country, "marketplace_order_id": order_id}
    claims.finish(store.engine, ANSWERS, key, token, state, message)


def mark_rejected(store: ShopStore, marketplace: str, country: str, order_id: str, message: str) -> int:
    """An answer we sent that the marketplace never took (Lengow: not acknowledged in time)."""
    ac = t.acceptances.c
    return store.transaction(lambda conn: conn.execute(
        update(t.acceptances)
        .where(ac.marketplace == marketplace, ac.country == country, ac.marketplace_order_id == order_id, ac.state == "sent")
        .values(state="rejected", message=message[:2000])
    ).rowcount)


def forget_rejected(store: ShopStore, marketplace: str, country: str, order_id: str) -> int:
    """Let a manual accept / refuse answer again an order whose answer the marketplace refused."""
    ac = t.acceptances.c
    return store.transaction(lambda conn: conn.execute(
        t.acceptances.delete().where(
            ac.marketplace == marketplace, ac.country == country, ac.marketplace_order_id == order_id, ac.state == "rejected"
        )
    ).rowcount)
