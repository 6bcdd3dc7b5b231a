"""Reconciliation: marketplace orders (the inbox, as lookup and recovery saw them) vs shop orders.

One row per marketplace x country x purchase day: orders seen, expected in the shop, imported,
missing (with a known reason or unexplained), duplicated orders / stock moves / confirmations,
status drift and amount drift. Written as a table in the shop database, a CSV and an HTML page
with a chart per entry. pandas is imported here only, never at DAG parse time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text

from ordersync.shop import schema as t
from ordersync.shop.db import insert_ignore, utcnow
from ordersync.shop.store import ShopStore
from ordersync.sql import load_sql

log = logging.getLogger(__name__)

IMPORTABLE = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")
COUNTS = t.RECONCILIATION_COUNTS
# what makes the check task fail: an order lost or written twice is never normal
GAPS = ("unexplained", "duplicated_orders", "duplicated_moves", "confirmed_twice")


class ReconciliationGap(Exception):
    """The report found orders lost or duplicated: the check task fails so Airflow alerts."""


@dataclass
class Report:
    days: Any  # pandas.DataFrame, one row per entry x day, columns COUNTS
    reasons: Any  # pandas.DataFrame: entry, reason, orders
    generated_at: datetime

    def totals(self) -> dict[str, int]:
        return {c: int(self.days[c].sum()) for c in COUNTS} if len(self.days) else dict.fromkeys(COUNTS, 0)

    def gaps(self) -> dict[str, int]:
        return {k: v for k, v in self.totals().items() if k in GAPS and v}


def _normalised() -> dict[str, str]:
    from ordersync.channels import amazon, cdiscount, lengow

    words = {**amazon.STATUSES, **cdiscount.STATUSES, **lengow.STATUSES}
    return {raw: status.value for raw, status in words.items()}


def order_facts(store: ShopStore, entry: Any):
    """The per-order facts of one entry as a DataFrame (SQL in queries/reconcile_orders.sql)."""
    import pandas as pd

    with store.engine.connect() as conn:
        rows = conn.execute(
            text(load_sql("reconcile_orders")), {"marketplace": entry.marketplace, "country": entry.country}
        ).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        return frame
    frame["entry"] = entry.key
    merchant = frame["fulfillment"] == "MERCHANT"
    # each channel's own status words, in the shared vocabulary (UNSHIPPED, SHIPPED, CANCELLED...)
    words = _normalised()
    status = frame["marketplace_status"].map(lambda raw: words.get(raw, raw))
    in_shop = frame["shop_order_id"].notna()
    expected = (merchant & status.isin(IMPORTABLE)) | (~merchant & (status == "SHIPPED") & bool(entry.import_fba))
    expected = (expected & bool(entry.create_orders)) | in_shop  # a shop order is always expected to stay right
    frame["on_marketplace"] = 1
    frame["expected"] = expected.astype(int)
    frame["imported"] = in_shop.astype(int)
    missing = expected & ~in_shop
    frame["missing"] = missing.astype(int)
    frame["not_imported"] = (missing & frame["not_imported_reason"].notna()).astype(int)
    frame["unexplained"] = (missing & frame["not_imported_reason"].isna()).astype(int)
    frame["duplicated_orders"] = (frame["shop_copies"].fillna(0) - 1).clip(lower=0).astype(int)
    frame["duplicated_moves"] = (frame["sale_moves"].fillna(0) - frame["lines_sold"].fillna(0)).clip(lower=0).astype(int)
    frame["confirmed_twice"] = frame["packages_confirmed_twice"].fillna(0).clip(lower=0).astype(int)
    shop_status = frame["shop_status"].fillna("")
    cancelled = frame["cancelled_at"].notna()
    frame["shipped_not_confirmed"] = (
        merchant & in_shop & (shop_status == entry.shipped_status) & (frame["packages_confirmed"].fillna(0) == 0)
    ).astype(int)
    frame["cancel_not_applied"] = (in_shop & (status == "CANCELLED") & ~cancelled).astype(int)
    frame["shipped_elsewhere"] = (
        merchant & in_shop & (status == "SHIPPED") & ~cancelled & (shop_status != entry.shipped_status)
    ).astype(int)
    totals = pd.to_numeric(frame["marketplace_total"], errors="coerce"), pd.to_numeric(frame["shop_total"], errors="coerce")
    frame["amount_drift"] = (in_shop & totals[0].notna() & ((totals[0] - totals[1]).abs() > 0.005)).astype(int)
    frame["day"] = pd.to_datetime(frame["purchase_date"], utc=True).dt.strftime("%Y-%m-%d")
    return frame


def build(store: ShopStore, entries: list[Any]) -> Report:
    """The report over every entry given (pandas group-by of the per-order facts)."""
    import pandas as pd

    frames = [f for f in (order_facts(store, e) for e in entries) if not f.empty]
    now = utcnow()
    if not frames:
        empty = pd.DataFrame(columns=["entry", "marketplace", "country", "day", *COUNTS])
        return Report(empty, pd.DataFrame(columns=["entry", "reason", "orders"]), now)
    facts = pd.concat(frames, ignore_index=True)
    days = facts.groupby(["entry", "marketplace", "country", "day"], as_index=False)[list(COUNTS)].sum()
    reasons = (
        facts[facts["not_imported"] == 1]
        .groupby(["entry", "not_imported_reason"], as_index=False)
        .size()
        .rename(columns={"not_imported_reason": "reason", "size": "orders"})
    )
    return Report(days.sort_values(["entry", "day"]).reset_index(drop=True), reasons, now)


def save(store: ShopStore, report: Report) -> int:
    """Replace the report's entry x day rows in the ``reconciliation`` table (one transaction)."""
    rows = [
        {"entry": r["entry"], "marketplace": r["marketplace"], "country": r["country"], "day": r["day"],
         **{c: int(r[c]) for c in COUNTS}, "generated_at": report.generated_at}
        for r in report.days.to_dict("records")
    ]
    rc = t.reconciliation.c
    with store.engine.begin() as conn:
        for entry in sorted({r["entry"] for r in rows}):
            conn.execute(delete(t.reconciliation).where(rc.entry == entry, rc.day.in_([r["day"] for r in rows if r["entry"] == entry])))
        insert_ignore(conn, t.reconciliation, rows)
    return len(rows)


def write_files(report: Report, folder: Path) -> dict[str, Path]:
    """``reconciliation_<date>.csv`` and ``.html`` (plus ``latest`` copies) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.generated_at.strftime("%Y%m%dT%H%M%SZ")
    csv_path, html_path = folder / f"reconciliation_{stamp}.csv", folder / f"reconciliation_{stamp}.html"
    report.days.to_csv(csv_path, index=False)
    html_path.write_text(render_html(report), encoding="utf-8")
    for path in (csv_path, html_path):
        (folder / f"reconciliation_latest{path.suffix}").write_bytes(path.read_bytes())
    return {"csv": csv_path, "html": html_path}


def render_html(report: Report) -> str:
    from ordersync import report_html

    return report_html.render(report.days, report.reasons, report.generated_at, report.totals())


def reconcile(store: ShopStore, entries: list[Any], folder: Path) -> dict[str, Any]:
    """Build, save and write the report; returns totals and file paths (the task's XCom)."""
    report = build(store, entries)
    save(store, report)
    files = write_files(report, folder)
    totals = report.totals()
    log.info("reconciliation totals: %s (files %s)", totals, files)
    return {**totals, "rows": len(report.days), "csv": str(files["csv"]), "html": str(files["html"]),
            "generated_at": report.generated_at.astimezone(timezone.utc).isoformat()}


def check(totals: dict[str, Any]) -> None:
    """Raise :class:`ReconciliationGap` when the totals show an order lost or written twice."""
    gaps = {k: totals.get(k, 0) for k in GAPS if totals.get(k, 0)}
    if gaps:
        raise ReconciliationGap(
            "reconciliation found " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in gaps.items())
            + ": see the report and v_order_grid"
        )
