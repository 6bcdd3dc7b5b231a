"""Amazon, one large window (a single 4-day lookup of 3,300 orders): requests per order and package, sync time vs the plan's lower bound.

Runs the sandbox with Amazon's usage plans enforced, time-scaled, and syncs one country through
``steps.lookup`` / ``import_orders`` / ``fulfill`` with a real hook (limiter on, shared state in a
SQLite shop). The lower bound is what the searchOrders token bucket alone allows for the same
number of requests: ``max(0, requests - burst) / rate``; the ratio says how close pacing gets.
A second pass with the limiter off shows what it saves (429s answered by the sandbox).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

TIME_SCALE = 500  # searchOrders: 2.8 requests/s instead of one every three minutes
DAYS, ORDERS_PER_DAY = 3, 1100  # about 3300 orders in the window: 34+ pages of 100


def _run(sandbox, workdir: Path, limiter: bool) -> dict:
    from ordersync import demo, steps
    from ordersync.channels.amazon import AmazonChannel
    from ordersync.config import Entry
    from ordersync.hooks import AmazonSpApiHook
    from ordersync.model import Window
    from ordersync.ratelimit import DatabaseBuckets
    from ordersync.shop.store import ShopStore
    from sqlalchemy import text

    name = "bench_amazon_paced" if limiter else "bench_amazon_free"
    os.environ[f"AIRFLOW_CONN_{name.upper()}"] = json.dumps({
        "conn_type": "http", "host": sandbox.url, "login": "sandbox-client-id", "password": "sandbox-client-secret",
        "extra": {"refresh_token": "sandbox-refresh-token", "lwa_url": f"{sandbox.url}/auth/o2/token",
                  "rate_limit": limiter, "rate_scale": TIME_SCALE}})
    sandbox.post_admin("/reset")
    sandbox.post_admin("/settings", {"usage_plans": True, "time_scale": TIME_SCALE})
    store = ShopStore.from_url(f"sqlite:///{workdir / (name + '.db')}")
    store.migrate()
    demo.seed_products(store)
    entry = Entry(marketplace="amazon", country="IT", conn_id=name, onboarding="none",
                  carrier_map={"brt": "BRT"})
    hook = AmazonSpApiHook(name, backoff=0.2, max_backoff=2.0, limiter_state=DatabaseBuckets(store.engine))
    channel = AmazonChannel(hook, "IT", entry.page_size)
    now = datetime.now(UTC)
    window = Window(now - timedelta(days=DAYS + 1), now - timedelta(minutes=5))

    started = time.perf_counter()
    looked = steps.lookup(channel, store, entry, window)
    lookup_s = time.perf_counter() - started
    imported = steps.import_orders(channel, store, entry)
    sync_s = time.perf_counter() - started
    reads = sandbox.get_admin("/requests")

    shipped = demo.ship_orders(store, entry, 40, carrier="brt")  # one package each
    multi = 0
    with store.engine.connect() as conn:  # ten more orders shipped in two packages
        two_box = conn.execute(text(
            "SELECT o.marketplace_order_id, l.line_id, l.quantity FROM orders o JOIN order_lines l "
            "ON l.order_id = o.id WHERE o.fulfillment = 'MERCHANT' AND o.marketplace_status = 'UNSHIPPED' "
            "AND o.status = 'processing' AND l.quantity >= 2 LIMIT 10")).all()
    for order in {row[0]: row for row in two_box}.values():  # one line per order
        store.add_package("amazon", "IT", order[0], "1", f"A{multi}", [(order[1], 1)], carrier="brt")
        store.add_package("amazon", "IT", order[0], "2", f"B{multi}", [(order[1], order[2] - 1)], carrier="brt")
        multi += 1
    before = sandbox.get_admin("/requests")
    fulfilled = steps.fulfill(channel, store, entry)
    after = sandbox.get_admin("/requests")
    throttled = sandbox.get_admin("/throttled")["throttled"]
    store.engine.dispose()
    return {"looked": looked, "imported": imported, "reads": reads, "lookup_s": lookup_s, "sync_s": sync_s,
            "packages": len(shipped) + 2 * multi, "fulfilled": fulfilled,
            "confirm_requests": after["confirmShipment"] - before["confirmShipment"],
            "get_requests": after["getOrder"] - before["getOrder"], "throttled": throttled,
            "hook_throttled": hook.stats["throttled"]}


def main() -> list[str]:
    from ordersync.marketplaces import AMAZON_USAGE_PLANS
    from tests.helpers.sandbox import start_sandbox

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ordersync-bench-"))
    lines = []
    plan = AMAZON_USAGE_PLANS["searchOrders"]
    with tempfile.TemporaryDirectory() as tmp, start_sandbox(
        seed=3, days=DAYS, orders_per_day=ORDERS_PER_DAY, countries="IT"
    ) as sandbox:
        for limiter in (True, False):
            r = _run(sandbox, Path(tmp), limiter)
            n = r["imported"]["imported"]
            searches = r["reads"]["searchOrders"] - r["throttled"].get("searchOrders", 0)  # answered ones
            bound = max(0, searches - plan.burst) / (plan.rate * TIME_SCALE)
            label = "limiter on " if limiter else "limiter off"
            if limiter:
                lines.append(f"orders found {r['looked']['found']} (FBA re-read {r['looked']['fba_found']}), "
                             f"imported N={n}, pages {r['looked']['pages']}")
                lines.append(f"read requests per imported order: token {r['reads']['token'] / n:.4f}, "
                             f"searchOrders {searches / n:.4f}, getOrder {r['reads']['getOrder'] / n:.4f}")
                lines.append(f"confirmShipment requests per package: {r['confirm_requests'] / r['packages']:.3f} "
                             f"({r['confirm_requests']} for {r['packages']} packages, "
                             f"{r['fulfilled']['confirmed']} confirmed, getOrder {r['get_requests']})")
            ratio = f"{r['lookup_s'] / bound:.2f}x" if bound else "n/a (within the burst)"
            lines.append(f"{label}: sync N={n} in {r['sync_s']:.1f} s (lookup {r['lookup_s']:.1f} s) vs token-bucket "
                         f"lower bound {bound:.1f} s for {searches} answered searchOrders at time scale {TIME_SCALE}: "
                         f"lookup/bound {ratio}; sandbox 429s {sum(r['throttled'].values())}")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
