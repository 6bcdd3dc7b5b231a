"""Reconciliation: marketplace orders (the inbox, as lookup and recovery saw them) vs shop orders.

One row per marketplace x country x purchase day: orders seen, expected in the shop, imported,
missing (with a known reason or unexplained), duplicated orders / stock moves / confirmations,
status drift and amount drift. The daily report covers the purchase days that can still change
(the entry's ``reconcile_days``, 35 by default); ``full_history`` recomputes every day. The SQL
(``queries/reconcile_orders.sql``) does the counting, set-based and restricted to the window, so a
report costs the orders of the window, not of the history; rows are kept per entry x day in the
``reconciliation`` table, days outside the window keep their last figures. pandas only renders
(CSV, HTML), and is imported here only, never at DAG parse time. Files go to any
:class:`ReportFolder` (a ``pathlib.Path``; the operator hands an Airflow ``ObjectStoragePath``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, Self

from sqlalchemy import Connection, bindparam, delete, text

from ordersync.shop import schema as t
from ordersync.shop.db import insert_ignore, utcnow
from ordersync.shop.store import ShopStore
from ordersync.sql import load_sql

log = logging.getLogger(__name__)

IMPORTABLE = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")
COUNTS = t.RECONCILIATION_COUNTS
# what makes the check task fail: an order lost or written twice is never normal
GAPS = ("unexplained", "duplicated_orders", "duplicated_moves", "confirmed_twice")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # full history: every purchase is after it


class ReconciliationGap(Exception):
    """The report found orders lost or duplicated: the check task fails so Airflow alerts."""


class ReportFolder(Protocol):
    """Where report files go: ``pathlib.Path`` or Airflow's ``ObjectStoragePath`` (local or remote)."""

    def __truediv__(self, name: str) -> Self: ...

    def mkdir(self, parents: bool = ..., exist_ok: bool = ...) -> None: ...

    def write_bytes(self, data: bytes) -> Any: ...


@dataclass
class Report:
    days: Any  # pandas.DataFrame, one row per entry x day, columns COUNTS
    reasons: Any  # pandas.DataFrame: entry, reason, orders
    generated_at: datetime
    since: dict[str, str] = field(default_factory=dict)  # entry -> first purchase day covered

    def totals(self) -> dict[str, int]:
        return {c: int(self.days[c].sum()) for c in COUNTS} if len(self.days) else dict.fromkeys(COUNTS, 0)

    def gaps(self) -> dict[str, int]:
        return {k: v for k, v in self.totals().items() if k in GAPS and v}


def _normalised() -> dict[str, str]:
    from ordersync.channels.registry import STATUS_WORDS

    return {raw: status.value for words in STATUS_WORDS.values() for raw, status in words.items()}


def _words_for(words: dict[str, str], meanings: tuple[str, ...]) -> list[str]:
    """Every raw status word that means one of ``meanings`` (a word no channel maps means itself)."""
    return sorted({raw for raw, value in words.items() if value in meanings} | {m for m in meanings if m not in words})


def window_start(entry: Any, now: datetime, full_history: bool = False, days: int | None = None) -> datetime:
    """Midnight UTC of the first purchase day the report covers (the last ``days`` days, today included)."""
    if full_history:
        return EPOCH
    span: int = days if days else entry.reconcile_days
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=span - 1)


def entry_rows(store: ShopStore, entry: Any, since: datetime) -> list[dict[str, Any]]:
    """The entry's counts per purchase day and not-imported reason since ``since`` (one SQL query)."""
    words = _normalised()
    query = text(load_sql("reconcile_orders")).bindparams(
        bindparam("since", type_=t.UtcDateTime),
        bindparam("importable", expanding=True),
        bindparam("shipped", expanding=True),
        bindparam("cancelled", expanding=True),
    )
    params = {
        "marketplace": entry.marketplace, "country": entry.country, "since": since,
        "importable": _words_for(words, IMPORTABLE), "shipped": _words_for(words, ("SHIPPED",)),
        "cancelled": _words_for(words, ("CANCELLED",)), "import_fba": int(bool(entry.import_fba)),
        "create_orders": int(bool(entry.create_orders)), "shipped_status": entry.shipped_status,
    }
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # the planner cannot size the CTEs and prices the query above jit_above_cost: compiling
            # it took seconds per entry, running it a fraction of that
            conn.exec_driver_sql("SET LOCAL jit = off")
        rows = conn.execute(query, params).mappings().all()
    # DATE() is text on SQLite, a date elsewhere; counts may come back as Decimal (SUM on PostgreSQL)
    return [{"day": str(r["day"])[:10], "reason": r["reason"], **{c: int(r[c] or 0) for c in COUNTS}} for r in rows]


def build(store: ShopStore, entries: list[Any], full_history: bool = False, days: int | None = None) -> Report:
    """The report over every entry given: each entry's window of purchase days (or all of them)."""
    import pandas as pd

    now = utcnow()
    per_day: dict[tuple[str, str, str, str], dict[str, int]] = {}
    reasons: dict[tuple[str, str], int] = {}
    since: dict[str, str] = {}
    for entry in entries:
        start = window_start(entry, now, full_history, days)
        since[entry.key] = start.strftime("%Y-%m-%d")
        for row in entry_rows(store, entry, start):
            counts = per_day.setdefault((entry.key, entry.marketplace, entry.country, row["day"]), dict.fromkeys(COUNTS, 0))
            for c in COUNTS:
                counts[c] += row[c]
            if row["reason"] is not None and row["not_imported"]:
                reasons[(entry.key, row["reason"])] = reasons.get((entry.key, row["reason"]), 0) + row["not_imported"]
    frame = pd.DataFrame(
        [{"entry": k[0], "marketplace": k[1], "country": k[2], "day": k[3], **v} for k, v in sorted(per_day.items())],
        columns=["entry", "marketplace", "country", "day", *COUNTS],
    )
    why = pd.DataFrame([{"entry": e, "reason": r, "orders": n} for (e, r), n in sorted(reasons.items())],
                       columns=["entry", "reason", "orders"])
    return Report(frame, why, now, since)


def save(store: ShopStore, report: Report) -> int:
    """Replace the rows of the report's windows in the ``reconciliation`` table (one transaction).

    Every entry x day of a window is rewritten (a day no longer holding orders loses its row);
    days before the window keep the figures of the last report that covered them.
    """
    rows = [
        {"entry": r["entry"], "marketplace": r["marketplace"], "country": r["country"], "day": r["day"],
         **{c: int(r[c]) for c in COUNTS}, "generated_at": report.generated_at}
        for r in report.days.to_dict("records")
    ]
    rc = t.reconciliation.c

    def replace_days(conn: Connection) -> None:
        for entry, first_day in sorted(report.since.items()):
            conn.execute(delete(t.reconciliation).where(rc.entry == entry, rc.day >= first_day))
        insert_ignore(conn, t.reconciliation, rows)

    store.transaction(replace_days)
    return len(rows)


def write_files(report: Report, folder: ReportFolder) -> dict[str, ReportFolder]:
    """``reconciliation_<date>.csv`` and ``.html`` (plus ``latest`` copies) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.generated_at.strftime("%Y%m%dT%H%M%SZ")
    contents = {".csv": report.days.to_csv(index=False).encode(), ".html": render_html(report).encode("utf-8")}
    paths = {}
    for suffix, data in contents.items():
        paths[suffix.lstrip(".")] = folder / f"reconciliation_{stamp}{suffix}"
        paths[suffix.lstrip(".")].write_bytes(data)
        (folder / f"reconciliation_latest{suffix}").write_bytes(data)
    return paths


def render_html(report: Report) -> str:
    from ordersync import report_html

    return report_html.render(report.days, report.reasons, report.generated_at, report.totals(), report.since)


def reconcile(
    store: ShopStore, entries: list[Any], folder: ReportFolder, full_history: bool = False, days: int | None = None
) -> dict[str, Any]:
    """Build, save and write the report; returns totals and file paths (the task's XCom)."""
    report = build(store, entries, full_history, days)
    save(store, report)
    files = write_files(report, folder)
    totals = report.totals()
    log.info("reconciliation totals: %s (purchases since %s; files %s)", totals, report.since, files)
    return {**totals, "rows": len(report.days), "csv": str(files["csv"]), "html": str(files["html"]),
            "since": min(report.since.values(), default=None),
            "generated_at": report.generated_at.astimezone(timezone.utc).isoformat()}


def check(totals: dict[str, Any]) -> None:
    """Raise :class:`ReconciliationGap` when the totals show an order lost or written twice."""
    gaps = {k: totals.get(k, 0) for k in GAPS if totals.get(k, 0)}
    if gaps:
        raise ReconciliationGap(
            "reconciliation found " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in gaps.items())
            + ": see the report and v_order_grid"
        )
