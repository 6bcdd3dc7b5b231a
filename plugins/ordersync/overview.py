"""What the merchant's "Order sync" page shows, per entry, read from the shop database.

The summary (``v_sync_summary``), the orders set aside with their reason and age, the orders
waiting for our answer (accept-first marketplaces), the shipments the marketplace refused with
its message (``v_not_shipped``), and the latest reconciliation rendered from the
``reconciliation`` table. Plain reads returning JSON-ready dicts; the web layer
(:mod:`ordersync.web`) adds Airflow's login and permissions. Buyer data stops at the name: no
address, e-mail, phone or payload leaves this module.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, text

from ordersync.channels.registry import WAITING_STATUSES
from ordersync.shop import schema as t
from ordersync.shop.db import utcnow
from ordersync.shop.store import ShopStore

# the manual actions the page offers per list (the ordersync_actions DAG's `action` param)
LIST_ACTIONS = {"not_imported": ("reimport",), "waiting_acceptance": ("accept", "refuse"),
                "not_shipped": ("resend_fulfillment",)}
SUMMARY_COUNTS = ("orders_imported", "orders_not_imported", "orders_waiting", "packages_shipped",
                  "orders_not_yet_shipped", "packages_not_shipped")
LIMIT = 500  # rows per list: the page is for acting on orders, the SQL views have them all


def entry_overview(store: ShopStore, entry: Any, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows for one entry (a ``config.Entry``)."""
    now = now or utcnow()
    mp, country = entry.marketplace, entry.country
    return {
        "entry": entry.key,
        "dag_id": entry.dag_id,
        "marketplace": mp,
        "country": country,
        "accept_first": mp in WAITING_STATUSES,
        "summary": summary(store, entry.key),
        "not_imported": not_imported(store, mp, country, now),
        "waiting_acceptance": waiting_acceptance(store, mp, country),
        "not_shipped": not_shipped(store, mp, country),
    }


def summary(store: ShopStore, entry_key: str) -> dict[str, Any]:
    """The entry's row of ``v_sync_summary`` (zeros and no dates before its first run)."""
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM v_sync_summary WHERE entry = :entry"), {"entry": entry_key}).mappings().first()
    if row is None:
        return {"last_lookup_at": None, "last_import_at": None, "last_fulfillment_at": None, **dict.fromkeys(SUMMARY_COUNTS, 0)}
    out = {k: _iso(row[k]) for k in ("last_lookup_at", "last_import_at", "last_fulfillment_at")}
    return {**out, **{k: int(row[k] or 0) for k in SUMMARY_COUNTS}}


def not_imported(store: ShopStore, marketplace: str, country: str, now: datetime) -> list[dict[str, Any]]:
    """Orders set aside and not resolved yet: reason, message, attempts, age since first set aside."""
    ni, ib = t.not_imported.c, t.inbox.c
    query = (
        select(ni.marketplace_order_id, ni.reason, ni.message, ni.attempts, ni.first_failed_at, ni.last_failed_at,
               ib.buyer_name, ib.purchase_date, ib.total, ib.currency)
        .select_from(t.not_imported.outerjoin(t.inbox, (ib.marketplace == ni.marketplace) & (ib.country == ni.country)
                                              & (ib.marketplace_order_id == ni.marketplace_order_id)))
        .where(ni.marketplace == marketplace, ni.country == country, ni.resolved_at.is_(None))
        .order_by(ni.first_failed_at, ni.marketplace_order_id)
        .limit(LIMIT)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{
        "order_id": r["marketplace_order_id"], "reason": r["reason"], "message": r["message"], "attempts": r["attempts"],
        "first_failed_at": _iso(r["first_failed_at"]), "last_failed_at": _iso(r["last_failed_at"]),
        "age_hours": round((now - r["first_failed_at"]).total_seconds() / 3600, 1),
        "buyer_name": r["buyer_name"], "country": country,
        "purchase_date": _iso(r["purchase_date"]), "total": _money(r["total"]), "currency": r["currency"],
    } for r in rows]


def waiting_acceptance(store: ShopStore, marketplace: str, country: str) -> list[dict[str, Any]]:
    """Staged orders whose marketplace status waits for our answer, with the answer if one is on its way."""
    statuses = WAITING_STATUSES.get(marketplace)
    if not statuses:
        return []  # Amazon: nothing to accept
    ib, ac = t.inbox.c, t.acceptances.c
    query = (
        select(ib.marketplace_order_id, ib.marketplace_status, ib.buyer_name, ib.purchase_date, ib.total, ib.currency,
               ac.decision, ac.state.label("answer_state"), ac.message)
        .select_from(t.inbox.outerjoin(t.acceptances, (ac.marketplace == ib.marketplace) & (ac.country == ib.country)
                                       & (ac.marketplace_order_id == ib.marketplace_order_id)))
        .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_status.in_(sorted(statuses)))
        .order_by(ib.purchase_date, ib.marketplace_order_id)
        .limit(LIMIT)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{
        "order_id": r["marketplace_order_id"], "status": r["marketplace_status"], "buyer_name": r["buyer_name"],
        "country": country, "purchase_date": _iso(r["purchase_date"]), "total": _money(r["total"]),
        "currency": r["currency"], "decision": r["decision"], "answer_state": r["answer_state"],
        "answer_message": r["message"],
    } for r in rows]


def not_shipped(store: ShopStore, marketplace: str, country: str) -> list[dict[str, Any]]:
    """Shipments the marketplace refused (``v_not_shipped``), with its message."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM v_not_shipped WHERE marketplace = :mp AND country = :country "
                 "ORDER BY last_attempt_at, marketplace_order_id"),
            {"mp": marketplace, "country": country},
        ).mappings().all()
    return [{
        "order_id": r["marketplace_order_id"], "shop_order_id": r["shop_order_id"], "package_ref": r["package_ref"],
        "carrier_code": r["carrier_code"], "tracking_number": r["tracking_number"], "message": r["message"],
        "attempts": r["attempts"], "last_attempt_at": _iso(r["last_attempt_at"]),
    } for r in rows[:LIMIT]]


def latest_reconciliation_html(store: ShopStore, entries: list[Any]) -> str | None:
    """The latest reconciliation of these entries as the report page (:mod:`ordersync.report_html`),
    rebuilt from the ``reconciliation`` table the reconciliation DAG writes; None before its first run."""
    import pandas as pd

    from ordersync import report_html

    keys = {e.key: e for e in entries}
    rc = t.reconciliation.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.reconciliation).where(rc.entry.in_(sorted(keys)))
                            .order_by(rc.entry, rc.day)).mappings().all()
    if not rows:
        return None
    days = pd.DataFrame([dict(r) for r in rows])
    generated_at = max(r["generated_at"] for r in rows)
    reasons = pd.DataFrame(_reasons(store, entries, generated_at), columns=["entry", "reason", "orders"])
    totals = {c: int(days[c].sum()) for c in t.RECONCILIATION_COUNTS}
    return report_html.render(days, reasons, generated_at, totals)


def _reasons(store: ShopStore, entries: list[Any], at: datetime) -> list[tuple[str, str, int]]:
    """Orders set aside when the report was made, per entry and reason (the report's
    "not-imported reasons"), so they agree with its figures even after some were re-imported."""
    ni = t.not_imported.c
    by_place = {(e.marketplace, e.country): e.key for e in entries}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(ni.marketplace, ni.country, ni.reason, func.count().label("orders"))
            .where(ni.first_failed_at <= at, (ni.resolved_at.is_(None)) | (ni.resolved_at > at))
            .group_by(ni.marketplace, ni.country, ni.reason)
        ).all()
    return [(by_place[(r.marketplace, r.country)], r.reason, int(r.orders)) for r in rows if (r.marketplace, r.country) in by_place]


def _iso(value: datetime | str | None) -> str | None:
    """ISO 8601 in UTC; the views hand back text on SQLite and naive UTC on PostgreSQL / MariaDB."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _money(value: Any) -> str | None:
    return None if value is None else str(value)
