"""The fortnight simulation: days of marketplace life through the real DAGs, then the ground truth.

    python -m tests.simulation.fortnight --days 14 --orders-per-day 200     (make simulate)

The sandbox marketplaces (a real HTTP server, Amazon's usage plans enforced) receive the events
of deterministic timelines as simulated time passes: Amazon IT, FR, DE, ES, NL and BE (one seller)
(:class:`~ordersync.sandbox.timeline.Timeline`: orders listed hours late, FBA orders days late,
pending for days, cancelled before and after import), Cdiscount, which wants every order
accepted first (:class:`~ordersync.sandbox.timeline.AcceptFirstTimeline`; its sandbox clock is
pinned on simulated time, so answers, releases and parcels happen then), and the ``amazon_fr``
marketplace of a Lengow account (:class:`~ordersync.sandbox.timeline.LengowTimeline`: accept
first too, orders ``new`` for minutes, orders the marketplace delivers itself; actions are
acknowledged by the marketplace after a delay, ship actions go one per order line; its clock is
pinned like Cdiscount's). For every 4-hour
interval each entry's DAG runs through Airflow (``dag.test``) and the warehouse ships orders. On
the way: a 6-hour outage of every marketplace (the two runs inside it run and fail, Airflow's
retry included), a 429 storm, a 5xx burst, an import task killed with SIGKILL in the middle, and
a backfill of the previous day run by another process while the scheduled runs go on. The daily
recovery DAG runs every day, the reconciliation DAG at the end. Then the shop database is
compared with the marketplaces' ground truth: orders lost, orders duplicated, stock moves
duplicated, confirmations or acceptances sent twice, orders left unanswered, reservations left
open, cancellations not applied, and for Lengow: orders lost or duplicated, actions sent twice
(lost answers are injected), orders left unanswered, marketplace-delivered orders that moved stock
or were shipped by the shop, shipments refused. All must be 0, and the reconciliation must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# six EU countries of one seller account: one region-wide listing serves them all
COUNTRIES = ("IT", "FR", "DE", "ES", "NL", "BE")
LENGOW_MARKETPLACE = "amazon_fr"  # the sandbox's Lengow marketplace that ships one line per action
DAG_IDS = (*(f"ordersync_amazon_{c.lower()}" for c in COUNTRIES), "ordersync_cdiscount_fr", f"ordersync_lengow_{LENGOW_MARKETPLACE}")
STEP = timedelta(hours=4)
SCHEDULE = "0 */4 * * *"
RECOVERY_HOUR = 4  # ordersync.factory.RECOVERY_SCHEDULE runs daily at 04:00 UTC, on a STEP boundary
RELEASED = ("InPreparation", "Shipped")  # Cdiscount statuses of orders accepted and paid: in the shop
LENGOW_RELEASED = ("waiting_shipment", "shipped")  # the same on Lengow
LENGOW_LOST_ANSWERS = ("action:accept", "action:ship")  # armed twice each in the 5xx burst's interval


def configure_airflow(home: Path) -> None:
    """Airflow settings for an isolated home; must run before anything imports Airflow."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "plugins"), str(REPO), os.environ.get("PYTHONPATH")) if p)
    for path in (str(REPO), str(REPO / "plugins")):
        if path not in sys.path:
            sys.path.insert(0, path)


class Simulation:
    """One simulated period; :meth:`run` returns the figures."""

    def __init__(self, workdir: Path, days: int, orders_per_day: int, seed: int = 7, log=print,
                 now: datetime | None = None):
        from ordersync.sandbox.timeline import AcceptFirstTimeline, LengowTimeline, Timeline

        self.workdir, self.days, self.log = workdir, days, log
        now = now or datetime.now(UTC)  # an earlier ``now`` moves the period (and its hour) back
        # the simulated period ends a few hours ago, aligned on the 4-hour schedule
        end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=now.hour % 4) - STEP
        self.start = end - timedelta(days=days)
        self.timeline = Timeline(self.start, days, orders_per_day, COUNTRIES, seed=seed)
        self.cdiscount = AcceptFirstTimeline(self.start, days, orders_per_day, seed=seed)
        self.lengow = LengowTimeline(self.start, days, orders_per_day, seed=seed, marketplace=LENGOW_MARKETPLACE)
        self.shop_path = workdir / "shop.db"
        self.config_path = workdir / "marketplaces.yaml"
        self.events_done: datetime | None = None
        self.failed_runs: list[str] = []
        self.runs = 0
        self.killed = False
        self.backfill: subprocess.Popen | None = None
        self.backfill_runs: list[dict] = []
        self.overlapped = 0  # scheduled runs made while the backfill process was running
        self.lost: dict[str, dict] = {}  # filled by figures(): what each lost order was

    # -- set-up ----------------------------------------------------------------------------

    def write_config(self) -> None:
        entries = "\n".join(
            f"  - {{marketplace: amazon, country: {c}, conn_id: amazon_eu, import_fba: {str(c == 'DE').lower()}, "
            f"carrier_map: {{courier: Other}}}}"
            for c in COUNTRIES
        )
        self.config_path.write_text(
            f"defaults:\n  schedule: '{SCHEDULE}'\n  overlap_minutes: 20\n  start_date: {self.start.date()}\n"
            f"  onboarding: none\n  retries: 1\n  retry_delay: 1s\nentries:\n{entries}\n"
            "  - {marketplace: cdiscount, country: FR, conn_id: cdiscount, carrier_map: {courier: Colissimo}}\n"
            # marketplace-delivered orders are imported once shipped, as a record (no stock move)
            f"  - {{marketplace: lengow, lengow_marketplace: {LENGOW_MARKETPLACE}, country: FR, conn_id: lengow, "
            "import_fba: true, carrier_map: {courier: COLISSIMO}}\n"
        )
        os.environ["ORDERSYNC_CONFIG"] = str(self.config_path)

    def start_sandbox(self):
        from tests.helpers.sandbox import sandbox_connections, start_sandbox

        # no generated history: every order comes from the timelines; plans enforced, 1000x faster
        self.sandbox = start_sandbox(seed=1, days=1, orders_per_day=0, countries=",".join(COUNTRIES),
                                     usage_plans=True, time_scale=1000)
        for name, conn in sandbox_connections(self.sandbox.url, rate_scale=1000).items():
            # a call rides out a short 5xx burst itself; a longer outage fails the task quickly
            conn["extra"] = {**conn.get("extra", {}), "max_retries": 2, "backoff": 0.05}
            os.environ[name] = json.dumps(conn)
        os.environ["AIRFLOW_CONN_ORDERSYNC_SHOP"] = json.dumps({"conn_type": "sqlite", "host": str(self.shop_path)})

    def open_shop(self):
        from ordersync import demo
        from ordersync.shop import schema as t
        from ordersync.shop.store import ShopStore

        self.store = ShopStore.from_url(f"sqlite:///{self.shop_path}")
        self.store.migrate()
        demo.seed_products(self.store)
        with self.store.engine.begin() as conn:  # opening stock: accept-by-stock never runs dry here
            conn.execute(t.products.update().values(stock=1_000_000))

    # -- the marketplaces' life ---------------------------------------------------------------

    def push_events(self, until: datetime) -> int:
        """Send the timelines' events up to ``until`` to the sandbox (what the marketplaces show by then)."""
        from ordersync.marketplaces import amazon_marketplace
        from ordersync.sandbox.catalog import CATALOG
        from ordersync.sandbox.world import iso

        pushed = 0
        for event in self.timeline.until(until, after=self.events_done):
            order = event.order
            if event.kind == "appear":
                status, updated = order.status_at(event.when)
                self.sandbox.post_admin("/orders", {
                    "orderId": order.order_id,
                    "marketplaceId": amazon_marketplace(order.country).marketplace_id,
                    "fulfillmentStatus": status,
                    "fulfilledBy": order.fulfilled_by,
                    "items": [{"sellerSku": sku, "quantity": qty} for sku, qty in order.items],
                    "createdTime": iso(order.created),
                    "lastUpdatedTime": iso(updated),
                })
            else:
                self.sandbox.post_admin(f"/orders/{order.order_id}",
                                        {"fulfillmentStatus": event.status, "lastUpdatedTime": iso(event.when)})
            pushed += 1
        prices = {p.sku: p.price_eur for p in CATALOG}
        for event in self.cdiscount.until(until, after=self.events_done):
            order = event.order
            if event.kind == "appear":
                self.sandbox.post_admin("/cdiscount/orders", {
                    "id": order.order_id, "status": order.status_at(event.when)[0], "created": iso(order.created),
                    "lines": [{"sku": sku, "quantity": qty, "price": prices[sku]} for sku, qty in order.items],
                })
            else:
                self.sandbox.post_admin(f"/cdiscount/orders/{order.order_id}", {"status": event.status, "at": iso(event.when)})
            pushed += 1
        for event in self.lengow.until(until, after=self.events_done):
            order = event.order
            if event.kind == "appear":
                self.sandbox.post_admin("/lengow/orders", {
                    "id": order.order_id, "group": LENGOW_MARKETPLACE, "status": order.status_at(event.when)[0],
                    "created": iso(order.created), "by_marketplace": order.fulfilled_by == "MARKETPLACE",
                    "lines": [{"sku": sku, "quantity": qty, "price": prices[sku]} for sku, qty in order.items],
                })
            else:
                self.sandbox.post_admin(f"/lengow/orders/{order.order_id}", {"status": event.status, "at": iso(event.when)})
            pushed += 1
        self.events_done = until
        # Cdiscount's and Lengow's clocks are the simulated one: answers, acknowledgements,
        # releases and parcels happen "then"
        self.sandbox.post_admin("/cdiscount/clock", {"now": iso(until)})
        self.sandbox.post_admin("/lengow/clock", {"now": iso(until)})
        return pushed

    def fault(self, body: dict | None) -> None:
        if body is None:
            self.sandbox.http.delete(self.sandbox.url + "/_admin/faults", timeout=10).raise_for_status()
        else:
            self.sandbox.post_admin("/faults", body)

    # -- Airflow ---------------------------------------------------------------------------

    def run_dag(self, dag_id: str, logical_date: datetime, conf: dict | None = None) -> str:
        from airflow.dag_processing.dagbag import DagBag

        if not hasattr(self, "_bag"):
            self._bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
            assert not self._bag.import_errors, self._bag.import_errors
        if self.backfill is not None and self.backfill.poll() is None:
            self.overlapped += 1
        run = self._bag.get_dag(dag_id).test(logical_date=logical_date, run_conf=conf or {})
        self.runs += 1
        if run.state != "success":
            self.failed_runs.append(f"{dag_id}@{logical_date:%m-%d %H:%M}")
        return run.state

    def start_backfill(self, dates: list[datetime]) -> None:
        """Re-run ``dates`` of every entry in another process, while the scheduled runs go on."""
        self.backfill_log = (self.workdir / "backfill.log").open("w")
        code = (
            "from tests.simulation.fortnight import backfill_in_child; "
            f"backfill_in_child({list(DAG_IDS)!r}, {[d.isoformat() for d in dates]!r}, {str(self.workdir / 'backfill.json')!r})"
        )
        self.backfill = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=os.environ.copy(),
                                         stdout=self.backfill_log, stderr=subprocess.STDOUT)

    def join_backfill(self) -> None:
        if self.backfill is None:
            return
        code = self.backfill.wait(timeout=1800)
        self.backfill_log.close()
        assert code == 0, f"backfill process failed ({code}): {(self.workdir / 'backfill.log').read_text()[-3000:]}"
        self.backfill_runs = json.loads((self.workdir / "backfill.json").read_text())
        self.runs += len(self.backfill_runs)
        self.failed_runs += [f"{r['dag_id']}@{r['date']} (backfill)" for r in self.backfill_runs if r["state"] != "success"]
        self.backfill = None

    def lookup_only(self, country: str, end: datetime) -> None:
        """The lookup task's work for one interval (what ran before the import task was killed)."""
        from ordersync import steps
        from ordersync.config import load_config
        from ordersync.operators import OrderSyncOperator

        entry = load_config().entry(f"amazon_{country.lower()}")
        window = steps.run_window(entry, end - STEP, end)
        steps.lookup(OrderSyncOperator.channel(entry, self.store), self.store, entry, window)

    def killed_import(self, country: str) -> bool:
        """An import task killed with SIGKILL in the middle: True if it died before finishing."""
        before = self.store.count("orders")
        code = (
            "from tests.simulation.fortnight import import_in_child; "
            f"import_in_child({str(self.shop_path)!r}, {str(self.config_path)!r}, 'amazon_{country.lower()}')"
        )
        child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if self.store.count("orders") > before:  # a page is in: kill it in the middle of the next
                os.kill(child.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        child.wait()
        return child.returncode == -signal.SIGKILL

    def warehouse(self, share: float = 0.5) -> int:
        """Ship part of the open merchant orders of every entry, with tracking numbers."""
        from ordersync import demo
        from ordersync.config import load_config

        shipped = 0
        for entry in load_config().enabled:
            open_ = self.store.count("orders", country=entry.country, status=entry.order_status, fulfillment="MERCHANT")
            shipped += len(demo.ship_orders(self.store, entry, int(open_ * share), carrier="courier"))
        return shipped

    # -- the whole period --------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        names = ("ORDERSYNC_CONFIG", "ORDERSYNC_REPORTS_DIR", "AIRFLOW_CONN_AMAZON_EU", "AIRFLOW_CONN_CDISCOUNT",
                 "AIRFLOW_CONN_LENGOW", "AIRFLOW_CONN_ORDERSYNC_SHOP")
        saved = {k: os.environ.get(k) for k in names}
        self.write_config()
        self.start_sandbox()
        try:
            self.open_shop()
            return self._run()
        finally:
            if self.backfill is not None and self.backfill.poll() is None:
                self.backfill.kill()
            self.sandbox.stop()
            self.store.engine.dispose()
            for key, value in saved.items():  # leave the environment as it was (tests run on after)
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _run(self) -> dict[str, Any]:
        from ordersync.factory import RECOVERY_SCHEDULE

        assert RECOVERY_SCHEDULE.split()[:2] == ["0", str(RECOVERY_HOUR)], RECOVERY_SCHEDULE
        intervals = int(timedelta(days=self.days) / STEP)
        per_day = int(timedelta(days=1) / STEP)
        outage = range(intervals // 4, intervals // 4 + 2)  # down 6 hours around these two runs
        storm, burst = intervals // 3 + 1, intervals // 2
        killed_at, backfill_at = intervals // 2 + 1, (2 * intervals) // 3
        backfill_started = -intervals
        started = time.monotonic()
        for i in range(1, intervals + 1):
            end = self.start + i * STEP
            self.push_events(end)
            if i in outage:
                # every marketplace answers 503 from 2 h before this run to 4 h after the previous
                # one: the runs fail after their retry (Airflow alerts); later runs and the
                # recovery must still bring in every order
                self.fault({"outage": True})
                for dag_id in DAG_IDS:
                    self.run_dag(dag_id, end)
                self.fault(None)
                continue
            if i == storm:
                self.fault({"operation": "searchOrders", "status": 429, "count": 5, "after": 1})
            if i == burst:
                self.fault({"operation": "searchOrders", "status": 503, "count": 3})
                # Lengow queues these actions but their answers are lost: the queue is read before
                # anything is sent again (armed until the next such actions come)
                for operation in LENGOW_LOST_ANSWERS:
                    self.sandbox.post_admin("/lengow/fail", {"operation": operation, "status": 502, "count": 2, "after": True})
            if i == killed_at:  # FR's lookup stages the interval, then its import is killed mid-way
                self.lookup_only("FR", end)
                self.killed = self.killed_import("FR")
                self.log(f"   interval {i}: import killed with SIGKILL mid-way: {self.killed}")
            for dag_id in DAG_IDS:
                self.run_dag(dag_id, end)
            self.fault(None)
            if i == backfill_at:  # the previous day again, in another process, over the next scheduled runs
                self.start_backfill([self.start + j * STEP for j in range(i - per_day, i)])
                backfill_started = i
            if end.hour == RECOVERY_HOUR:  # the daily recovery, at its own schedule's time
                self.run_dag("ordersync_recovery", end)
            if i % per_day == 0:
                # a backfill started on (or just before) a day boundary runs on into the next day:
                # joined at once, no scheduled run would overlap it and the fault would be skipped
                if i - backfill_started >= OVERLAP_INTERVALS:
                    self.join_backfill()
                self.warehouse()
                self.log(f"   day {i // per_day}/{self.days}: {self.store.count('orders')} shop orders, "
                         f"{self.runs} DAG runs, {time.monotonic() - started:.0f} s")
        self.join_backfill()
        # the last shipments get confirmed; then the next morning's recovery, the first whose
        # window reaches the period's end (an order listed late in the last hours is only
        # caught there, as it would be in production), and the data team's report
        last = self.start + intervals * STEP
        for dag_id in DAG_IDS:
            self.run_dag(dag_id, last)
        morning = last.replace(hour=RECOVERY_HOUR)
        if morning < last:
            morning += timedelta(days=1)
        self.run_dag("ordersync_recovery", morning)
        os.environ["ORDERSYNC_REPORTS_DIR"] = str(self.workdir / "reports")
        self.run_dag("ordersync_reconciliation", last)
        return self.figures()

    def figures(self) -> dict[str, Any]:
        """Ground truth (timelines and the sandbox's records) against the shop database."""
        from collections import Counter

        from sqlalchemy import func, select

        from ordersync import reconcile
        from ordersync.config import load_config
        from ordersync.shop import schema as t

        config = load_config()
        fba = {e.country for e in config.enabled if e.marketplace == "amazon" and e.import_fba}
        by_id = {o.order_id: o for o in self.timeline.orders}
        expected = {oid for c in COUNTRIES for oid in self.timeline.expected_in_shop(c in fba) if by_id[oid].country == c}
        # Cdiscount's truth is the sandbox's: accepted and released orders must be in the shop
        cd_ids = {o.order_id for o in self.cdiscount.orders}
        cd = {o["orderId"]: o for o in self.sandbox.get_admin("/cdiscount/orders")["orders"] if o["orderId"] in cd_ids}
        expected |= {oid for oid, o in cd.items() if o["status"] in RELEASED}
        # Lengow's truth is the sandbox's too: merchant orders accepted and released, and orders
        # the marketplace delivered itself once shipped (import_fba), products known to the shop
        lg_plan = {o.order_id: o for o in self.lengow.orders}
        lg = {o["marketplace_order_id"]: o for o in self.sandbox.get_admin("/lengow/orders")["orders"]
              if o["marketplace_order_id"] in lg_plan}
        lg_delivered = {oid for oid, o in lg.items() if o.get("order_types")}
        lg_expected = {oid for oid, o in lg.items() if oid not in lg_delivered and o["lengow_status"] in LENGOW_RELEASED}
        lg_expected |= {oid for oid in lg_delivered if lg[oid]["lengow_status"] == "shipped" and lg_plan[oid].known_products}
        expected |= lg_expected
        with self.store.engine.connect() as conn:
            shop = conn.execute(select(t.orders.c.marketplace_order_id, func.count()).group_by(t.orders.c.marketplace_order_id)).all()
            moves_twice = conn.execute(
                select(func.count()).select_from(
                    select(t.stock_moves.c.order_line_id, t.stock_moves.c.reservation_id, t.stock_moves.c.reason)
                    .group_by(t.stock_moves.c.order_line_id, t.stock_moves.c.reservation_id, t.stock_moves.c.reason)
                    .having(func.count() > 1).subquery()
                )
            ).scalar()
            open_reservations = conn.execute(
                select(t.reservations.c.marketplace_order_id).where(t.reservations.c.state == "reserved").distinct()
            ).scalars().all()
            # a confirmed order set aside for a missing product keeps its known items reserved
            # until it is fixed and imported (or cancelled, or the reservation expires): not a leak
            waiting_fix = set(conn.execute(
                select(t.not_imported.c.marketplace_order_id).where(t.not_imported.c.resolved_at.is_(None))).scalars())
            cancelled_in_shop = set(conn.execute(
                select(t.orders.c.marketplace_order_id).where(t.orders.c.cancelled_at.is_not(None))).scalars())
            lg_shop = conn.execute(
                select(t.orders.c.marketplace_order_id, func.count()).where(t.orders.c.marketplace == "lengow")
                .group_by(t.orders.c.marketplace_order_id)).all()
            # marketplace-delivered orders: never a stock move, never a shipment sent by the shop
            lg_delivered_moves = conn.execute(
                select(func.count()).select_from(t.stock_moves.join(t.order_lines, t.order_lines.c.id == t.stock_moves.c.order_line_id)
                                                 .join(t.orders, t.orders.c.id == t.order_lines.c.order_id))
                .where(t.orders.c.marketplace == "lengow", t.orders.c.marketplace_order_id.in_(sorted(lg_delivered)))
            ).scalar()
            lg_confirmations = conn.execute(
                select(t.shipment_confirmations.c.state, t.shipment_confirmations.c.message)
                .join(t.orders, t.orders.c.id == t.shipment_confirmations.c.order_id).where(t.orders.c.marketplace == "lengow")
            ).all()
        in_shop = {oid for oid, _ in shop}
        final = {oid: o.status_at(self.timeline.end)[0] for oid, o in by_id.items()}
        final.update({oid: o["status"] for oid, o in cd.items()})
        final.update({oid: o["lengow_status"] for oid, o in lg.items()})
        still_open = ("PENDING", "WaitingAcceptance", "Accepted")
        cancelled_late = {oid for oid in in_shop if final.get(oid) in ("CANCELLED", "Cancelled", "canceled")}
        sent = Counter(
            (c["orderId"], c.get("packageReferenceId"))
            for c in self.sandbox.get_admin("/confirmations")["confirmations"] if c["accepted"]
        )
        cd_actions = self.sandbox.get_admin("/cdiscount/actions")["actions"]
        sent += Counter((a["order_id"], a.get("parcelNumber")) for a in cd_actions if a["operation"] == "shipment" and a["accepted"])
        answers = Counter(a["order_id"] for a in cd_actions if a["operation"] == "approval")
        # every Lengow action the sandbox queued, whatever the order (seeded ones too): one per
        # order, line and parcel
        lg_posted = [a for a in self.sandbox.get_admin("/lengow/actions")["actions"] if a["accepted"]]
        lg_sent = Counter((a["order_id"], a["operation"] in ("accept", "refuse") or a["operation"], a.get("line"),
                           (a.get("body") or {}).get("tracking_number")) for a in lg_posted)
        lg_answered = {a["order_id"] for a in lg_posted if a["operation"] in ("accept", "refuse")}
        lg_ships = [a for a in lg_posted if a["operation"] == "ship"]
        report = reconcile.build(self.store, list(config.enabled)).totals()
        injected = self.sandbox.get_admin("/throttled")["injected"]
        # what a lost order was, for whoever has to find out why (ids and states only)
        with self.store.engine.connect() as conn:
            for oid in sorted(expected - in_shop):
                inbox = conn.execute(
                    select(t.inbox.c.state, t.inbox.c.note, t.inbox.c.marketplace_status, t.inbox.c.marketplace_updated_at).where(t.inbox.c.marketplace_order_id == oid)
                ).first()
                planned = by_id.get(oid) or lg_plan.get(oid)
                self.lost[oid] = {
                    "truth": final.get(oid),
                    "history": [(w.isoformat(), st) for w, st in planned.history] if planned else None,
                    "visible_at": planned.visible_at.isoformat() if planned else None,
                    "fulfilled_by": planned.fulfilled_by if planned else "MERCHANT",
                    "inbox": [str(v) for v in inbox] if inbox else None,
                }
        return {
            "orders_expected": len(expected),
            "orders_in_shop": len(in_shop),
            "cdiscount_in_shop": len(in_shop & cd_ids),
            "lengow_in_shop": len(in_shop & set(lg_plan)),
            "orders_lost": len(expected - in_shop),
            "orders_duplicated": sum(n - 1 for _, n in shop),
            "stock_moves_duplicated": moves_twice,
            "confirmations_sent_twice": sum(n - 1 for n in sent.values()),
            "acceptances_sent_twice": sum(n - 1 for n in answers.values()),
            "orders_left_unanswered": sum(1 for o in cd.values() if o["status"] == "WaitingAcceptance"),
            "reservations_left_open": sum(
                1 for oid in open_reservations if final.get(oid) not in still_open and oid not in waiting_fix
            ),
            "cancellations_not_applied": len(cancelled_late - cancelled_in_shop),
            "confirmations": sum(sent.values()),
            "acceptances": sum(1 for a in cd_actions if a["operation"] == "approval" and a["accepted"]),
            "dag_runs": self.runs,
            "backfill_runs": len(self.backfill_runs),
            "runs_during_backfill": self.overlapped,
            "import_killed_mid_way": self.killed,
            "faults_injected": sum(injected.values()),  # 429 storm, 5xx burst, outage answers
            "cdiscount_outage_answers": injected.get("octopia", 0),
            "failed_runs": len(self.failed_runs),
            "lengow_orders_expected": len(lg_expected),
            "lengow_orders_lost": len(lg_expected - in_shop),
            "lengow_orders_duplicated": sum(n - 1 for _, n in lg_shop),
            "lengow_actions_sent_twice": sum(n - 1 for n in lg_sent.values()),
            "lengow_orders_left_unanswered": sum(
                1 for oid, o in lg.items() if o["lengow_status"] == "waiting_acceptance" and oid not in lg_answered),
            "lengow_marketplace_orders_touched": lg_delivered_moves + sum(1 for a in lg_ships if a["order_id"] in lg_delivered),
            "lengow_shipments_refused": sum(1 for state, _ in lg_confirmations if state == "rejected"),
            "lengow_answers": len(lg_answered & set(lg_plan)),
            "lengow_ship_actions": len(lg_ships),
            "lengow_ship_actions_without_line": sum(1 for a in lg_ships if not a.get("line")),  # amazon_fr: per line
            "lengow_shipments_acknowledged": sum(1 for state, message in lg_confirmations
                                                 if state == "confirmed" and message == "acknowledged by the marketplace"),
            "lengow_marketplace_delivered_in_shop": len(in_shop & lg_delivered),
            "lengow_outage_answers": injected.get("lengow", 0),
            "lengow_lost_answers": 2 * len(LENGOW_LOST_ANSWERS) - sum(self.sandbox.get_admin("/lengow/fail")["lost_answers"].values()),
            "report_unexplained": report["unexplained"],
            "report_duplicated": report["duplicated_orders"] + report["duplicated_moves"] + report["confirmed_twice"],
        }


def backfill_in_child(dag_ids: list[str], dates: list[str], out: str) -> None:
    """The backfill: every DAG over ``dates``, in a process of its own (the scheduler would run it
    next to the scheduled runs); writes each run's state to ``out``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    runs = []
    for date in dates:
        for dag_id in dag_ids:
            # a backfill reads exactly its own window (dag.test makes manual runs: say so)
            run = bag.get_dag(dag_id).test(logical_date=datetime.fromisoformat(date), run_conf={"own_window": True})
            runs.append({"dag_id": dag_id, "date": date, "state": str(run.state)})
    Path(out).write_text(json.dumps(runs))


def import_in_child(shop_path: str, config_path: str, entry_key: str) -> None:
    """The import task's work in a process of its own (the one the simulation kills)."""
    from ordersync import steps
    from ordersync.channels.amazon import AmazonChannel
    from ordersync.config import load_config
    from ordersync.shop.store import ShopStore

    entry = load_config(config_path).entry(entry_key).model_copy(update={"page_size": 5})  # many small pages
    store = ShopStore.from_url(f"sqlite:///{shop_path}")
    steps.import_orders(AmazonChannel(None, entry.country), store, entry)


OVERLAP_INTERVALS = 3  # scheduled intervals the backfill runs beside before a day's end may join it

ZERO = ("orders_lost", "orders_duplicated", "stock_moves_duplicated", "confirmations_sent_twice", "acceptances_sent_twice",
        "orders_left_unanswered", "reservations_left_open", "cancellations_not_applied",
        "lengow_orders_lost", "lengow_orders_duplicated", "lengow_actions_sent_twice", "lengow_orders_left_unanswered",
        "lengow_marketplace_orders_touched", "lengow_shipments_refused")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation.fortnight", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--orders-per-day", type=int, default=200, help="per entry")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours-earlier", type=int, default=0,
                        help="end the period this many hours earlier (the day's hour changes what is in flight)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ordersync-fortnight-"))
    configure_airflow(work / "airflow")
    (work / "airflow").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    print(f"== {args.days} days x ({len(COUNTRIES)} Amazon countries + Cdiscount + Lengow {LENGOW_MARKETPLACE}) "
          f"x {args.orders_per_day} orders a day "
          f"(work dir {work})")
    sim = Simulation(work, args.days, args.orders_per_day, args.seed,
                     now=datetime.now(UTC) - timedelta(hours=args.hours_earlier))
    figures = sim.run()
    for key, value in figures.items():
        print(f"   {key:38} {value}")
    bad = {k: figures[k] for k in ZERO if figures[k]}
    for oid, what in sim.lost.items():
        print(f"   lost {oid}: {what}")
    agree = figures["report_unexplained"] == figures["orders_lost"] and figures["report_duplicated"] == 0
    if not figures["runs_during_backfill"]:  # the concurrency fault must have happened, or the run proves nothing
        bad["runs_during_backfill"] = 0
    print("== " + ("PASS: nothing lost, nothing twice" if not bad and agree else f"FAIL: {bad or 'report disagrees'}"))
    return 0 if not bad and agree else 1


if __name__ == "__main__":
    sys.exit(main())
