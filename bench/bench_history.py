"""History: reconciliation, fulfillment and import on a PostgreSQL shop already holding 100k, then 1M orders.

The shop is built by COPY (10 Amazon entries, 200 orders a day each: 100k orders are 50 days, 1M
about 16 months; orders older than 3 days shipped and confirmed, two lines and two sale moves
each, the inbox row beside it). In the same run, at 100k and at 1M orders of history:

- the daily reconciliation (``reconcile.reconcile`` over the 10 entries, in a fresh child process
  for its peak RSS; the best time of the rounds, the highest peak);
- ``ShopStore.shipments_to_confirm`` of one entry with 0 and with 500 packages pending;
- the EXPLAIN summary (scan nodes) of both queries.

Then, on top of 1M orders: importing 10k new orders the way the DAG does (stage + import)
against a PostgreSQL COPY of exactly the rows that import wrote, into the same tables, and
against the one-row-at-a-time ORM baseline of ``bench_import`` (per order); and the peak-RSS
slope of the import (child processes importing 10k, 20k and 40k orders: MiB per 10k orders).
The import and its COPY are timed in rounds (each round's rows taken back before the next), the
best of each kept; every timed write starts after a CHECKPOINT (see ``settle``).

Figures go to ``bench/results/history.json``. Environment: BENCH_HISTORY_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/ordersync_bench_history), BENCH_HISTORY_ORDERS
(1000000), BENCH_HISTORY_SMALL (100000), BENCH_HISTORY_IMPORT (10000), BENCH_HISTORY_NAIVE
(2000: the ORM baseline is per order, measured on fewer orders to keep the run short),
BENCH_HISTORY_ROUNDS (3).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench import bench_import

URL = os.environ.get(
    "BENCH_HISTORY_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/ordersync_bench_history"
)
HISTORY = int(os.environ.get("BENCH_HISTORY_ORDERS", "1000000"))
SMALL = int(os.environ.get("BENCH_HISTORY_SMALL", "100000"))
IMPORT = int(os.environ.get("BENCH_HISTORY_IMPORT", "10000"))
NAIVE = int(os.environ.get("BENCH_HISTORY_NAIVE", "2000"))
ROUNDS = int(os.environ.get("BENCH_HISTORY_ROUNDS", "3"))  # timed steps: the best of this many rounds
RSS_SIZES = [int(n) for n in os.environ.get("BENCH_HISTORY_RSS", "10000,20000,40000").split(",")]
COUNTRIES = ["IT", "FR", "DE", "ES", "UK", "NL", "BE", "PL", "SE", "IE"]
PER_DAY = 200  # orders a day per entry (2,000 a day for the seller)
SHIPPED_AFTER = timedelta(days=3)
CUSTOMERS = 10_000
RESULTS = Path(__file__).resolve().parent / "results" / "history.json"
ROOT = Path(__file__).resolve().parents[1]


def entries() -> list[Any]:
    from ordersync.config import Entry

    return [Entry(marketplace="amazon", country=c, conn_id="bench", reserve_pending=False) for c in COUNTRIES]


# -- building the history by COPY -------------------------------------------------------------


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _history_rows(lo: int, hi: int, now: datetime) -> dict[str, list[str]]:
    """COPY text lines of orders ``lo..hi-1`` (order n is entry n % 10, ``n // 10`` orders back in time)."""
    out: dict[str, list[str]] = {k: [] for k in ("inbox", "orders", "order_lines", "stock_moves",
                                                 "shipment_confirmations", "not_imported")}
    step = timedelta(days=1) / PER_DAY
    for n in range(lo, hi):
        country = COUNTRIES[n % len(COUNTRIES)]
        when = now - step * (n // len(COUNTRIES)) - timedelta(minutes=5)
        ts = _ts(when)
        oid = f"H{n:010d}"
        shipped = now - when > SHIPPED_AFTER
        status, mstatus = ("shipped", "SHIPPED") if shipped else ("processing", "UNSHIPPED")
        set_aside = n % 1000 == 999 and country != "IT"  # not imported (kept off the import bench's entry)
        state = "not_imported" if set_aside else "imported"
        out["inbox"].append(
            f"{n + 1}\tamazon\t{country}\t{oid}\t{mstatus}\tMERCHANT\t{ts}\t{{}}\t{state}\t{ts}\t19.80\tEUR\thist\t{ts}\t{ts}")
        if set_aside:
            out["not_imported"].append(
                f"amazon\t{country}\t{oid}\tno_matching_product\tno product\t1\t{ts}\t{ts}")
            continue
        track = f"T{n}" if shipped else "\\N"
        out["orders"].append(
            f"{n + 1}\tamazon\t{country}\t{oid}\t{n % CUSTOMERS + 1}\t{status}\tpaid\t{mstatus}\tMERCHANT\t{ts}\t{ts}"
            f"\tEUR\t19.80\tf\thist\t{ts}\t{ts}\t{'brt' if shipped else chr(92) + 'N'}\t{track}\t{ts if shipped else chr(92) + 'N'}"
            f"\t{'claimed' if shipped else chr(92) + 'N'}")
        for k in (1, 2):
            pk = 2 * n + k
            out["order_lines"].append(f"{pk}\t{n + 1}\tL{k}\t{(n + k) % 50 + 1}\tBENCH-{(n + k) % 50:03d}\tItem\t1\t9.90")
            out["stock_moves"].append(f"{pk}\t{(n + k) % 50 + 1}\t{pk}\tsale\t-1\thist\t{ts}")
        if shipped:
            out["shipment_confirmations"].append(
                f"{n + 1}\t{n + 1}\t1\tBRT\t{track}\tconfirmed\thist\t1\t{ts}\t{ts}")
    return out


COLUMNS = {
    "inbox": "id, marketplace, country, marketplace_order_id, marketplace_status, fulfillment, marketplace_updated_at,"
             " payload, state, purchase_date, total, currency, batch, first_seen_at, seen_at",
    "orders": "id, marketplace, country, marketplace_order_id, customer_id, status, payment_status, marketplace_status,"
              " fulfillment, purchase_date, marketplace_updated_at, currency, total, is_prime, import_batch,"
              " imported_at, updated_at, carrier, tracking_number, shipped_at, confirm_state",
    "order_lines": "id, order_id, line_id, product_id, sku, name, quantity, unit_price",
    "stock_moves": "id, product_id, order_line_id, reason, quantity, batch, created_at",
    "shipment_confirmations": "id, order_id, package_ref, carrier_code, tracking_number, state, claimed_by, attempts,"
                              " claimed_at, confirmed_at",
    "not_imported": "marketplace, country, marketplace_order_id, reason, message, attempts, first_failed_at,"
                    " last_failed_at",
}


def _copy(store: Any, tables: dict[str, list[str]]) -> None:
    with store.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        for table, lines in tables.items():
            if lines:
                with cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as cp:
                    cp.write("\n".join(lines) + "\n")


def grow(store: Any, lo: int, hi: int, now: datetime) -> float:
    """COPY history orders ``lo..hi-1``; seconds taken."""
    started = time.perf_counter()
    for start in range(lo, hi, 50_000):
        _copy(store, _history_rows(start, min(hi, start + 50_000), now))
    with store.engine.begin() as conn:
        for table in ("inbox", "orders", "order_lines", "stock_moves", "shipment_confirmations", "not_imported"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    settle(store)
    return time.perf_counter() - started


def settle(store: Any) -> None:
    """Checkpoint now, so no checkpoint forced by an earlier step's WAL (building 1M orders writes
    gigabytes) runs during a timed step; each timed write then starts from the same state."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")


def build(url: str, now: datetime) -> Any:
    """A fresh shop at ``url`` with the bench products and customers (no orders yet)."""
    store = bench_import.fresh_store(url)
    with store.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        with cur.copy("COPY customers (id, customer_key, marketplace, name, created_at) FROM STDIN") as cp:
            cp.write("".join(f"{k + 1}\thist-{k}\tamazon\tBuyer {k}\t{_ts(now)}\n" for k in range(CUSTOMERS)))
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT MAX(id) FROM customers))")
    return store


# -- measuring ----------------------------------------------------------------------------------


def _child(code: str) -> dict[str, Any]:
    """Run ``code`` (which prints one JSON line last) in a fresh interpreter; adds its peak RSS."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    wrapped = f"import json, resource\n{code}\nprint(json.dumps({{**out, 'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))"
    res = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, env=env, check=False)
    if res.returncode:
        raise RuntimeError(f"child failed: {res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def reconcile_in_child(url: str, folder: str) -> dict[str, Any]:
    """The 06:00 reconciliation over the 10 entries (build, save, files) in a fresh process."""
    return _child(
        "import time, logging\nfrom pathlib import Path\nfrom bench.bench_history import entries\nfrom ordersync import reconcile\n"
        "from ordersync.shop.store import ShopStore\n"
        f"store = ShopStore.from_url({url!r})\nstarted = time.perf_counter()\n"
        f"totals = reconcile.reconcile(store, entries(), Path({folder!r}))\n"
        "out = {'seconds': time.perf_counter() - started, 'rows': totals['rows'], 'on_marketplace': totals['on_marketplace'],"
        " 'unexplained': totals['unexplained']}"
    )


def best_ms(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def to_confirm_ms(store: Any, pending: int) -> tuple[float, int]:
    """``shipments_to_confirm`` of amazon IT with ``pending`` of its open orders marked shipped."""
    picked = _mark_shipped(store, pending)
    try:
        found = len(store.shipments_to_confirm("amazon", "IT", "shipped"))
        return best_ms(lambda: store.shipments_to_confirm("amazon", "IT", "shipped")), found
    finally:
        _mark_shipped(store, 0, undo=picked)


def _mark_shipped(store: Any, count: int, undo: list[int] | None = None) -> list[int]:
    from sqlalchemy import select, update

    from ordersync.shop import schema as t

    oc = t.orders.c
    with store.engine.begin() as conn:
        if undo:
            conn.execute(update(t.orders).where(oc.id.in_(undo)).values(status="processing", tracking_number=None))
            return []
        if not count:
            return []
        ids = list(conn.execute(
            select(oc.id).where(oc.marketplace == "amazon", oc.country == "IT", oc.status == "processing")
            .order_by(oc.id).limit(count)).scalars())
        conn.execute(update(t.orders).where(oc.id.in_(ids)).values(status="shipped", tracking_number="P1", carrier="brt"))
        return ids


def explain(store: Any, run: Callable[[], Any]) -> list[str]:
    """Scan nodes of every SELECT ``run`` sends (EXPLAIN of the same statement and parameters)."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "SELECT" in statement.upper() and "pg_" not in statement and "INSERT" not in statement.upper():
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    nodes: list[str] = []
    with store.engine.connect() as conn:
        for statement, parameters in seen:
            cur = conn.connection.driver_connection.cursor()
            cur.execute("EXPLAIN " + statement, parameters)
            for (line,) in cur.fetchall():
                words = line.strip().lstrip("-> ").split("  (")[0]
                if "Scan" in words and words not in nodes:
                    nodes.append(words)
    return nodes


def history_figures(store: Any, url: str, label: str, folder: str) -> dict[str, Any]:
    runs = [reconcile_in_child(url, folder) for _ in range(ROUNDS)]
    # the best time of the rounds (each a fresh process), the highest peak RSS
    rec = {**min(runs, key=lambda r: r["seconds"]), "rss_kib": max(r["rss_kib"] for r in runs)}
    zero, found0 = to_confirm_ms(store, 0)
    five, found500 = to_confirm_ms(store, 500)
    return {"label": label, "reconcile_s": rec["seconds"], "reconcile_rss_mib": rec["rss_kib"] / 1024,
            "report_rows": rec["rows"], "report_orders": rec["on_marketplace"], "unexplained": rec["unexplained"],
            "to_confirm_ms_0": zero, "to_confirm_ms_500": five, "found_0": found0, "found_500": found500}


# -- import on top of the history ---------------------------------------------------------------

WRITTEN = ("customers", "orders", "order_lines", "stock_moves", "inbox")


def import_new(store: Any, first: int, count: int) -> tuple[float, float]:
    """Stage and import ``count`` new Amazon IT orders the way the DAG does; seconds, and the seconds
    of this process's CPU among them (the rest is waiting on PostgreSQL: its work and the round trips)."""
    from ordersync import steps
    from ordersync.channels.amazon import AmazonChannel
    from ordersync.steps.collector import older_objects_frozen

    channel = AmazonChannel(None, "IT")
    entry = entries()[0]
    pages = list(_pages(first, count))  # the marketplace's pages as they arrive: not the import's work
    settle(store)
    started, cpu = time.perf_counter(), time.process_time()
    with older_objects_frozen():  # as the lookup step stages its pages (see ordersync.steps.collector)
        for page in pages:
            store.stage("amazon", "IT", [channel.stage(p) for p in page])
    counts = steps.import_orders(channel, store, entry)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert counts["imported"] == count, counts
    return elapsed, cpu


def _pages(first: int, count: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(first, first + count, 100):
        yield [bench_import.payload(n) for n in range(start, min(first + count, start + 100))]


def copy_same_rows(store: Any, since_ids: dict[str, int]) -> float:
    """Take back the rows the import wrote (ids above ``since_ids``) and COPY them in again; seconds of the COPY."""
    dumps: dict[str, bytes] = {}
    with store.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        for table in WRITTEN:
            buf = bytearray()
            with cur.copy(f"COPY (SELECT * FROM {table} WHERE id > {since_ids[table]}) TO STDOUT") as cp:
                for block in cp:
                    buf += block
            dumps[table] = bytes(buf)
        _delete_since(conn, since_ids)
    settle(store)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        for table in WRITTEN:
            with cur.copy(f"COPY {table} FROM STDIN") as cp:
                cp.write(dumps[table])
    return time.perf_counter() - started


def import_rounds(store: Any) -> tuple[tuple[float, float], float]:
    """The best import (seconds, CPU seconds) and the best COPY of ``ROUNDS`` rounds; every round but
    the last takes its rows back."""
    imports, copies = [], []
    for round_ in range(ROUNDS):
        before = max_ids(store)
        imports.append(import_new(store, 0, IMPORT))
        copies.append(copy_same_rows(store, before))
        _say(f"round {round_ + 1}: import {imports[-1][0]:.2f} s ({imports[-1][1]:.2f} s of it client CPU), "
             f"COPY {copies[-1]:.2f} s")
        if round_ < ROUNDS - 1:
            take_back(store, before)
    return min(imports), min(copies)


def take_back(store: Any, since_ids: dict[str, int]) -> None:
    """Remove the rows written since ``since_ids`` (the round's orders and everything referring to them;
    every order of a round is imported, so the not-imported list holds none of them)."""
    with store.engine.begin() as conn:
        _delete_since(conn, since_ids)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in WRITTEN:
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def _delete_since(conn: Any, since_ids: dict[str, int]) -> None:
    """Delete the rows with ids above ``since_ids`` in the import's tables, in ``conn``'s transaction.

    Only rows the import just wrote, and every row referring to them: no foreign key check needed
    (customers.id has no index on orders, each check would read the whole history).
    """
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for table in reversed(WRITTEN):
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE id > {since_ids[table]}")


def max_ids(store: Any) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {t}").scalar_one() for t in WRITTEN}


def naive_seconds_per_order(store: Any, first: int, count: int) -> float:
    """The one-row ORM baseline of bench_import on ``count`` new orders, seconds per order."""
    settle(store)
    elapsed = bench_import.naive_import(store, _pages(first, count))
    return elapsed / count


def rss_slope(url: str) -> tuple[float, list[tuple[int, float]]]:
    """Peak RSS of fresh processes importing 10k, 20k, 40k orders into an empty shop: MiB per 10k (least squares)."""
    points = []
    for n in RSS_SIZES:
        out = _child(f"from bench.bench_import import set_based\nset_based({url!r}, {n})\nout = {{}}")
        points.append((n, out["rss_kib"] / 1024))
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return slope * 10_000, points


def _say(line: str) -> str:
    """Progress as it comes (the figures are printed again at the end by ``make bench``)."""
    print(f"   .. {line}", file=sys.stderr, flush=True)
    return line


def main() -> list[str]:
    import tempfile

    if not bench_import._postgres_ready(URL):
        return [f"PostgreSQL at {URL} not reachable: skipped (the history bench needs it)"]
    out: list[str] = []
    figures: dict[str, Any] = {}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    store = build(URL, now)
    with tempfile.TemporaryDirectory() as folder:
        seconds = grow(store, 0, SMALL, now)
        out.append(_say(f"history of {SMALL:,} orders built by COPY in {seconds:.1f} s"))
        small = history_figures(store, URL, "100k", folder)
        _say(json.dumps(small))
        seconds = grow(store, SMALL, HISTORY, now)
        out.append(_say(f"history grown to {HISTORY:,} orders by COPY in {seconds:.1f} s"))
        large = history_figures(store, URL, "1m", folder)
        _say(json.dumps(large))
    for f in (small, large):
        out.append(
            f"{f['label']:>4} history: reconciliation {f['reconcile_s']:.2f} s, peak RSS {f['reconcile_rss_mib']:.0f} MiB "
            f"({f['report_rows']} entry x day rows, {f['report_orders']:,} orders, {f['unexplained']} unexplained); "
            f"shipments_to_confirm {f['to_confirm_ms_0']:.1f} ms with 0 pending, {f['to_confirm_ms_500']:.1f} ms with "
            f"{f['found_500']} pending")
    from ordersync import reconcile

    out.append("EXPLAIN reconciliation (one entry): " + "; ".join(
        explain(store, lambda: reconcile.build(store, entries()[:1]))))
    out.append("EXPLAIN shipments_to_confirm: " + "; ".join(
        explain(store, lambda: store.shipments_to_confirm("amazon", "IT", "shipped"))))
    (imported, client_cpu), copied = import_rounds(store)
    naive = naive_seconds_per_order(store, IMPORT, NAIVE)
    _say(f"naive {naive * 1000:.2f} ms per order")
    rss_url = URL.rsplit("/", 1)[0] + "/ordersync_bench_history_rss"
    bench_import._postgres_ready(rss_url)
    slope, points = rss_slope(rss_url)
    out.append(f"import of {IMPORT:,} orders on top of {HISTORY:,}: {imported:.2f} s; COPY of the same rows {copied:.2f} s "
               f"-> {imported / copied:.2f}x COPY; one-row ORM {naive * 1000:.2f} ms/order -> "
               f"{naive * IMPORT / imported:.1f}x faster than the ORM")
    out.append(f"where the import's {imported:.2f} s go: {client_cpu:.2f} s of this process's CPU (Python and the driver), "
               f"{imported - client_cpu:.2f} s waiting on PostgreSQL ({(imported - client_cpu) / copied:.2f}x the COPY)")
    out.append("import peak RSS: " + ", ".join(f"{n:,} orders {m:.0f} MiB" for n, m in points)
               + f" -> slope {slope:.2f} MiB per 10k orders")
    figures = {
        "reconcile_s_100k": round(small["reconcile_s"], 3),
        "reconcile_s_1m": round(large["reconcile_s"], 3),
        "reconcile_peak_rss_mib": round(max(small["reconcile_rss_mib"], large["reconcile_rss_mib"]), 1),
        "to_confirm_ms_1m_0": round(large["to_confirm_ms_0"], 2),
        "to_confirm_ms_1m_500": round(large["to_confirm_ms_500"], 2),
        "import_vs_copy": round(imported / copied, 2),
        "import_vs_naive": round(naive * IMPORT / imported, 1),
        "rss_slope_mib_per_10k": round(slope, 2),
        # not goals: what the import ratio is made of
        "import_s": round(imported, 3),
        "import_client_cpu_s": round(client_cpu, 3),
        "copy_s": round(copied, 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    out.append(f"{RESULTS.relative_to(ROOT)}: {json.dumps(figures)}")
    out.append(f"(100k: to_confirm {small['to_confirm_ms_0']:.1f} / {small['to_confirm_ms_500']:.1f} ms)")
    _ = resource
    return out
