"""Amazon day: one simulated day of a seller in 1, 3 and 9 EU countries, 2,000 orders, usage plans enforced.

Drives the sync steps as the DAGs would (every 30 minutes each country's lookup -> import ->
fulfillment, the daily recovery at 04:00) against the sandbox over real HTTP, Amazon's usage plans
enforced and time-scaled, the client's limiter sharing its buckets in the shop database. The
orders come from the simulation's timeline (listed late, FBA surfacing days late, pending,
cancelled before and after import), 2,000 a day for the seller whatever the number of countries,
after two days of history. The warehouse marks orders shipped during each interval; the next run
confirms them, and the confirmation's update is stamped on the simulated clock so later windows
list it again, as Amazon's would.

A run's simulated duration is its limiter waits times the time scale plus its processing time
(real work is not scaled); a run is late when that exceeds its 30-minute interval. Prints
searchOrders per day against the regional plan's capacity, per imported order, 429s, late runs,
the shipped -> confirmed latency, and the parse figures of ``bench_parse`` (bench/results/parse.json).
Writes bench/results/amazon_day.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

TIME_SCALE = 900  # the plans refill 900x faster: a 30-minute interval lasts 2 s
ORDERS_PER_DAY = 2000  # for the seller, spread over its countries
HISTORY_DAYS = 2  # orders before the measured day (the recovery re-reads three days)
INTERVAL = timedelta(minutes=30)
COUNTRIES = ("DE", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "UK")  # EU: one seller x region
SHIP_SHARE = 0.5  # of the open merchant orders, shipped by the warehouse in each interval
CONN = "amazon_day"
SIZES = tuple(int(n) for n in os.environ.get("ORDERSYNC_BENCH_DAY_SIZES", "1,3,9").split(","))  # countries
# the entries' overlap_minutes (the configuration's default); a variant run can try another
OVERLAP = int(os.environ["ORDERSYNC_BENCH_DAY_OVERLAP"]) if os.environ.get("ORDERSYNC_BENCH_DAY_OVERLAP") else None


class Day:
    """One measured day for ``countries`` on a fresh sandbox world and shop database."""

    def __init__(self, sandbox, workdir: Path, countries: tuple[str, ...]):
        from ordersync import demo, steps
        from ordersync.config import Entry
        from ordersync.sandbox.timeline import Timeline
        from ordersync.shop import schema as t
        from ordersync.shop.store import ShopStore

        self.sandbox, self.countries = sandbox, countries
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.day = now - timedelta(days=1, hours=now.hour)  # yesterday 00:00: the day ends before now
        start = self.day - timedelta(days=HISTORY_DAYS)
        self.timeline = Timeline(start, HISTORY_DAYS + 1, ORDERS_PER_DAY // len(countries), countries, seed=17)
        self.store = ShopStore.from_url(f"sqlite:///{workdir / f'day_{len(countries)}.db'}")
        self.store.migrate()
        demo.seed_products(self.store)
        with self.store.engine.begin() as conn:
            conn.execute(t.products.update().values(stock=10_000_000))
        self.entries = [Entry(marketplace="amazon", country=c, conn_id=CONN, onboarding="none", import_fba=True,
                              **({} if OVERLAP is None else {"overlap_minutes": OVERLAP}), carrier_map={"courier": "Other"}) for c in countries]
        self.region = steps.region_of(self.entries[0], self.entries)
        self.channels = {e.country: self._channel(e) for e in self.entries}
        self.pushed: datetime | None = None
        self.marks: dict[tuple[str, str], datetime] = {}  # (country, order) -> when the shop marked it shipped
        self.latencies: list[float] = []
        self.late_runs = 0
        self.imported = 0
        self.recovery_searches = 0
        self.rng = random.Random(5)

    def _channel(self, entry):
        from ordersync.channels.amazon import AmazonChannel
        from ordersync.hooks import AmazonSpApiHook
        from ordersync.ratelimit import DatabaseBuckets

        hook = AmazonSpApiHook(CONN, region="EU", backoff=0.05, max_backoff=0.5,
                               limiter_state=DatabaseBuckets(self.store.engine))
        return AmazonChannel(hook, entry.country, entry.page_size)

    def push(self, until: datetime) -> None:
        """The timeline's events up to ``until`` into the sandbox (what Amazon shows by then)."""
        from ordersync.marketplaces import amazon_marketplace
        from ordersync.sandbox.world import iso

        for event in self.timeline.until(until, after=self.pushed):
            order = event.order
            if event.kind == "appear":
                status, updated = order.status_at(event.when)
                self.sandbox.post_admin("/orders", {
                    "orderId": order.order_id, "marketplaceId": amazon_marketplace(order.country).marketplace_id,
                    "fulfillmentStatus": status, "fulfilledBy": order.fulfilled_by,
                    "items": [{"sellerSku": sku, "quantity": qty} for sku, qty in order.items],
                    "createdTime": iso(order.created), "lastUpdatedTime": iso(updated)})
            else:
                self.sandbox.post_admin(f"/orders/{order.order_id}",
                                        {"fulfillmentStatus": event.status, "lastUpdatedTime": iso(event.when)})
        self.pushed = until

    def history(self) -> None:
        """The days before: read once per country (own window), imported and shipped; not measured."""
        from ordersync import steps
        from ordersync.model import Window

        self.push(self.day)
        for entry in self.entries:
            channel = self.channels[entry.country]
            steps.lookup(channel, self.store, entry, Window(self.day - timedelta(days=HISTORY_DAYS + 1), self.day))
            steps.import_orders(channel, self.store, entry)
            self._ship(entry, self.day, INTERVAL, share=1.0, track=False)
            steps.fulfill(channel, self.store, entry)

    def _ship(self, entry, start: datetime, span: timedelta, share: float, track: bool = True) -> None:
        from ordersync import demo

        open_ = self.store.count("orders", country=entry.country, status=entry.order_status, fulfillment="MERCHANT")
        for order_id in demo.ship_orders(self.store, entry, int(open_ * share), carrier="courier"):
            if track:
                self.marks[(entry.country, order_id)] = start + span * self.rng.random()

    def interval(self, end: datetime) -> None:
        """Every country's run of the interval ending at ``end``, then the warehouse."""
        from ordersync import steps

        started = time.monotonic()
        self.push(end)
        for entry in self.entries:
            self.run(entry, end, lambda ch, e, w: steps.lookup(ch, self.store, e, w, region=self.region))
        for entry in self.entries:  # the shop marks orders shipped during the next interval
            self._ship(entry, end, INTERVAL, SHIP_SHARE)
        # real time keeps pace with the scaled plans: an interval lasts at least 1800 / TIME_SCALE s
        time.sleep(max(0.0, INTERVAL.total_seconds() / TIME_SCALE - (time.monotonic() - started)))

    def run(self, entry, end: datetime, read) -> None:
        """One DAG run: read, import, confirm; its simulated duration and its confirmations' latency."""
        from ordersync import steps
        from ordersync.sandbox.world import iso

        channel = self.channels[entry.country]
        paced = channel.hook.stats["paced_seconds"]
        started = time.monotonic()
        read(channel, entry, steps.run_window(entry, end - INTERVAL, end))
        self.imported += steps.import_orders(channel, self.store, entry)["imported"]
        before = self._confirmed(entry)
        steps.fulfill(channel, self.store, entry)
        waited = channel.hook.stats["paced_seconds"] - paced
        duration = waited * TIME_SCALE + (time.monotonic() - started - waited)  # simulated seconds
        self.late_runs += duration > INTERVAL.total_seconds()
        done = end + timedelta(seconds=duration)
        for order_id in sorted(self._confirmed(entry) - before):
            mark = self.marks.pop((entry.country, order_id), None)
            if mark is not None:
                self.latencies.append((done - mark).total_seconds())
            # Amazon stamps the shipment on the order: later windows list it again
            self.sandbox.post_admin(f"/orders/{order_id}", {"lastUpdatedTime": iso(done)})

    def _confirmed(self, entry) -> set[str]:
        from sqlalchemy import select

        from ordersync.shop import schema as t

        sc, oc = t.shipment_confirmations.c, t.orders.c
        with self.store.engine.connect() as conn:
            return set(conn.execute(select(oc.marketplace_order_id).join(t.orders, oc.id == sc.order_id).where(
                oc.country == entry.country, sc.state == "confirmed")).scalars())

    def recovery(self, end: datetime) -> None:
        """The 04:00 recovery: recheck (FBA) and doublecheck per entry, region-wide listings."""
        from ordersync import steps

        before = self.sandbox.get_admin("/requests")["searchOrders"]
        for kind in ("recheck", "doublecheck"):
            for entry in self.entries:
                if kind == "doublecheck" or entry.import_fba:
                    window = steps.recovery_window(entry, kind, end)
                    steps.recover(self.channels[entry.country], self.store, entry, kind, window, region=self.region)
        self.recovery_searches += self.sandbox.get_admin("/requests")["searchOrders"] - before

    def measure(self) -> dict[str, Any]:
        self.history()
        requests, throttled = self.sandbox.get_admin("/requests"), self.sandbox.get_admin("/throttled")["throttled"]
        for i in range(1, int(timedelta(days=1) / INTERVAL) + 1):
            end = self.day + i * INTERVAL
            self.interval(end)
            if end.hour == 4 and end.minute == 0:
                self.recovery(end)
        after, throttled_after = self.sandbox.get_admin("/requests"), self.sandbox.get_admin("/throttled")["throttled"]
        self.store.engine.dispose()
        latencies = sorted(self.latencies) or [0.0]
        searches = after["searchOrders"] - requests["searchOrders"]
        return {
            "search_orders": searches,
            "imported": self.imported,
            "throttled": sum(throttled_after.values()) - sum(throttled.values()),
            "late_runs": self.late_runs,
            "confirm_latency_median_s": round(statistics.median(latencies), 1),
            "confirm_latency_max_s": round(latencies[-1], 1),
            "confirmations": len(self.latencies),
            "get_order": after["getOrder"] - requests["getOrder"],
            "recovery_search_orders": self.recovery_searches,
        }


def _parse_figures() -> list[str]:
    """bench_parse's figures (its bench/results/parse.json; measured now if no run left one)."""
    path = REPO / "bench" / "results" / "parse.json"
    if not path.exists():
        from bench import bench_parse

        bench_parse.main()
    parse = json.loads(path.read_text())
    return [f"task start with 200 entries (bench_parse, parsing context): {parse['task_parse_200_ms']:.0f} ms per task "
            f"building 1 DAG, vs {parse['entries_200_ms']:.0f} ms building all 203 before "
            f"({parse['entries_200_ms'] / parse['task_parse_200_ms']:.1f}x less per task start)"]


def main() -> list[str]:
    from ordersync.config import Entry
    from ordersync.marketplaces import AMAZON_USAGE_PLANS
    from tests.helpers.sandbox import start_sandbox

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ordersync-bench-"))
    plan = AMAZON_USAGE_PLANS["searchOrders"]
    capacity = round(plan.rate * 86400)
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            # a fresh marketplace per run: no orders but the timeline's, plans enforced
            with start_sandbox(seed=1, days=1, orders_per_day=0, countries=",".join(COUNTRIES),
                               usage_plans=True, time_scale=TIME_SCALE) as sandbox:
                os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = json.dumps({
                    "conn_type": "http", "host": sandbox.url, "login": "sandbox-client-id",
                    "password": "sandbox-client-secret",
                    "extra": {"refresh_token": "sandbox-refresh-token", "lwa_url": f"{sandbox.url}/auth/o2/token",
                              "rate_scale": TIME_SCALE}})
                figures[str(n)] = Day(sandbox, Path(tmp), COUNTRIES[:n]).measure()
    lines = [f"regional searchOrders plan: {plan.rate}/s = {capacity} a day (+ burst {plan.burst}); "
             f"goal <= 35% ({int(capacity * 0.35)}), <= 0.06 per imported order; time scale {TIME_SCALE}, "
             f"overlap_minutes {OVERLAP if OVERLAP is not None else Entry.model_fields['overlap_minutes'].default}"]
    for n, f in figures.items():
        lines.append(
            f"{n} countr{'y' if n == '1' else 'ies'}: searchOrders {f['search_orders']} a day "
            f"({f['search_orders'] / capacity:.0%} of the plan), imported {f['imported']}, "
            f"{f['search_orders'] / max(f['imported'], 1):.3f} per imported order (recovery "
            f"{f['recovery_search_orders']}, getOrder {f['get_order']}); 429s {f['throttled']}, "
            f"late runs {f['late_runs']} of {48 * int(n)}; shipped -> confirmed median "
            f"{f['confirm_latency_median_s'] / 60:.1f} min, worst {f['confirm_latency_max_s'] / 60:.1f} min "
            f"({f['confirmations']} confirmations)")
    first, last = figures[str(SIZES[0])], figures[str(SIZES[-1])]
    lines.append(f"searchOrders with {SIZES[-1]} countries vs {SIZES[0]}: {last['search_orders'] / max(first['search_orders'], 1):.2f}x "
                 "(a v0-style reader, getOrderItems per order, would need >= 1 call per imported order: not run)")
    lines += _parse_figures()
    results = REPO / "bench" / "results"
    if OVERLAP is not None or SIZES != (1, 3, 9):  # a variant run: the figures the issue names stay the default's
        return lines
    results.mkdir(parents=True, exist_ok=True)
    keys = ("search_orders", "imported", "throttled", "late_runs", "confirm_latency_median_s", "confirm_latency_max_s")
    (results / "amazon_day.json").write_text(json.dumps({
        "countries": {n: {k: f[k] for k in keys} for n, f in figures.items()},
        "plan_daily_capacity": capacity,
    }, indent=2))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
