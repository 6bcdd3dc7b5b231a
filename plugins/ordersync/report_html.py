"""The reconciliation report as one HTML page a person reads without hovering.

Per entry: a bar chart of imported vs missing orders per purchase day with a legend, a y axis
and the values written on the bars; the table with its columns explained; and, for every figure
that is not zero, what it means and what to do. Pure rendering of the report's frames (no
database): :mod:`ordersync.reconcile` builds the numbers.
"""

from __future__ import annotations

import html
from typing import Any

# column -> (what it counts, what to do when it is not zero; None: nothing to do)
COLUMNS: dict[str, tuple[str, str | None]] = {
    "on_marketplace": ("orders the marketplace listed for that purchase day", None),
    "expected": ("of those, orders the shop should have (importable, not cancelled, per the entry's settings)", None),
    "imported": ("expected orders that are in the shop", None),
    "missing": ("expected orders not in the shop: not imported (with a reason) plus unexplained", None),
    "not_imported": ("missing orders set aside with a reason (unknown product, bad payload...)",
                     "fix what the reason says (add the product...), then the next run or a reimport action imports them"),
    "unexplained": ("missing orders with no reason anywhere: an order lost",
                    "the check task failed: run the recovery DAG, then look the order up in v_order_grid"),
    "duplicated_orders": ("marketplace orders created twice in the shop",
                          "the check task failed: cancel the extra shop order; report it, it must never happen"),
    "duplicated_moves": ("stock moved twice for one order line and reason",
                         "the check task failed: correct the stock by hand from the stock_moves ledger"),
    "confirmed_twice": ("shipments confirmed to the marketplace twice",
                        "the check task failed: check the order on the marketplace"),
    "shipped_not_confirmed": ("shipped in the shop, not yet confirmed to the marketplace",
                              "normal until the next fulfillment run; older ones: see v_not_shipped for the marketplace's message"),
    "cancel_not_applied": ("cancelled on the marketplace, still open in the shop",
                           "the next import cancels them; if it stays, look at the order's not-imported reason"),
    "shipped_elsewhere": ("shipped on the marketplace, not shipped in the shop (shipped outside ordersync, or by the marketplace)",
                          "usually fine (FBA, or shipped from another tool): check that the warehouse really sent them"),
    "amount_drift": ("imported orders whose total differs from the marketplace's now",
                     "a price or quantity changed after import: check the order in the shop"),
}
GAPS = ("unexplained", "duplicated_orders", "duplicated_moves", "confirmed_twice")
WATCH = ("shipped_not_confirmed", "cancel_not_applied", "shipped_elsewhere", "amount_drift", "not_imported")

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;font-size:15px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eee;font-weight:600}td.day{text-align:left;white-space:nowrap}
.gap{background:#f8c8c8;font-weight:700}.watch{background:#fde9b8}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.todo li{margin:.3em 0}.ok{color:#276}
"""


def render(days: Any, reasons: Any, generated_at: Any, totals: dict[str, int], since: dict[str, str] | None = None) -> str:
    """The page: a summary of the figures that matter, then one section per entry, then the glossary."""
    first = min((since or {}).values(), default=None)
    covered = (" Every purchase day (full history)." if first and first <= "1970-01-01"
               else f" Purchases since {html.escape(first)} (older days keep their last figures in the reconciliation table)."
               if first else "")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ordersync reconciliation</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Reconciliation</h1><p>Generated {generated_at:%Y-%m-%d %H:%M} UTC, per marketplace x country x purchase day."
        f"{covered}</p>",
        _summary(totals),
    ]
    for entry, frame in days.groupby("entry"):
        parts.append(f"<h2>{html.escape(str(entry))}</h2>")
        parts.append(_chart(frame))
        parts.append(_todo(frame, reasons[reasons["entry"] == entry]))
        parts.append(_table(frame))
    parts.append(_glossary())
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(totals: dict[str, int]) -> str:
    gaps = [c for c in GAPS if totals.get(c)]
    line = ", ".join(f"{c.replace('_', ' ')} <b>{totals.get(c, 0)}</b>" for c in GAPS)
    verdict = ("<p class='gap'>Orders lost or written twice: the check task fails until they are fixed.</p>" if gaps
               else "<p class='ok'>No order lost or written twice.</p>")
    return f"<p>{line}.</p>{verdict}"


def _todo(frame: Any, reasons: Any) -> str:
    """What to do, for every figure of this entry that is not zero."""
    items = []
    for column in (*GAPS, *WATCH):
        total = int(frame[column].sum())
        what, todo = COLUMNS[column]
        if total and todo:
            items.append(f"<li><b>{column.replace('_', ' ')}: {total}</b> &mdash; {html.escape(what)}. "
                         f"<i>To do:</i> {html.escape(todo)}.</li>")
    if len(reasons):
        why = ", ".join(f"{html.escape(str(r['reason']))}: {int(r['orders'])}" for r in reasons.to_dict("records"))
        items.append(f"<li>Not-imported reasons: {why} (the not_imported table has each order's message).</li>")
    if not items:
        return "<p class='ok'>Nothing to do for this entry.</p>"
    return f"<ul class='todo'>{''.join(items)}</ul>"


def _table(frame: Any) -> str:
    cols = ["day", *COLUMNS]
    head = "".join(f"<th title='{html.escape(COLUMNS[c][0]) if c in COLUMNS else 'purchase day'}'>"
                   f"{c.replace('_', ' ')}</th>" for c in cols)
    body = []
    for r in frame.to_dict("records"):
        cells = []
        for c in cols:
            css = "day" if c == "day" else ("gap" if c in GAPS and r[c] else "watch" if c in WATCH and r[c] else "")
            cells.append(f"<td class='{css}'>{html.escape(str(r[c]))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _chart(frame: Any, width: int = 760, height: int = 220) -> str:
    """Imported (green) and missing (red) per purchase day: legend, y axis, values on the bars."""
    records = frame.to_dict("records")
    top = max([max(r["imported"], r["missing"], r["expected"]) for r in records] + [1])
    left, bottom, plot_h = 40, 34, height - 54
    step = (width - left) / max(len(records), 1)
    marks = [f"<line x1='{left}' y1='{height - bottom}' x2='{width}' y2='{height - bottom}' stroke='#888'/>",
             f"<line x1='{left}' y1='{height - bottom - plot_h}' x2='{left}' y2='{height - bottom}' stroke='#888'/>"]
    for tick in (0, top // 2, top):
        y = height - bottom - plot_h * tick / top
        marks.append(f"<text x='{left - 6}' y='{y + 4:.1f}' font-size='12' text-anchor='end'>{tick}</text>")
    for i, r in enumerate(records):
        x = left + i * step
        for offset, value, colour in ((2, r["imported"], "#3a8"), (step / 2, r["missing"], "#d54")):
            h = plot_h * value / top
            y = height - bottom - h
            marks.append(f"<rect x='{x + offset:.1f}' y='{y:.1f}' width='{max(step / 2 - 3, 1):.1f}' height='{h:.1f}' fill='{colour}'/>")
            marks.append(f"<text x='{x + offset + step / 4:.1f}' y='{y - 3:.1f}' font-size='11' text-anchor='middle'>{value}</text>")
        marks.append(f"<text x='{x + step / 2:.1f}' y='{height - bottom + 16}' font-size='12' text-anchor='middle'>"
                     f"{html.escape(str(r['day'])[5:])}</text>")
    legend = ("<p class='legend'><span style='background:#3a8'></span>imported"
              "<span style='background:#d54'></span>missing (not imported + unexplained), per purchase day (MM-DD)</p>")
    return (f"{legend}<svg width='{width}' height='{height}' role='img' aria-label='imported and missing orders per day'>"
            f"{''.join(marks)}</svg>")


def _glossary() -> str:
    rows = "".join(
        f"<tr><td class='day'>{c.replace('_', ' ')}</td><td class='day'>{html.escape(what)}</td>"
        f"<td class='day'>{html.escape(todo or '-')}</td></tr>"
        for c, (what, todo) in COLUMNS.items()
    )
    return ("<h2>What the columns mean</h2><table><tr><th>column</th><th>counts</th><th>when not zero</th></tr>"
            f"{rows}</table>")
