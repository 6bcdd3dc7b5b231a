"""One Amazon listing per seller account x region, against the sandbox over real HTTP.

The first lookup of an interval lists every country of the seller and stages each order under its
own country; the other countries' lookups find the window covered and make no call; concurrent
lookups list once and stage nothing twice (SQLite, PostgreSQL, MariaDB); backfills read their
own window; the shifted FBA re-read runs in chunks for the countries importing FBA orders.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ordersync import demo, steps
from ordersync.channels.amazon import AmazonChannel
from ordersync.config import Entry
from ordersync.hooks import AmazonSpApiHook
from ordersync.marketplaces import amazon_marketplace
from ordersync.model import Window
from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore

from tests.helpers.sandbox import start_sandbox

COUNTRIES = ("IT", "FR", "DE")


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(seed=5, days=2, orders_per_day=40, countries=",".join(COUNTRIES)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.post_admin("/reset")
    AmazonSpApiHook._tokens.clear()
    os.environ["AIRFLOW_CONN_AMAZON_REGION"] = json.dumps({
        "conn_type": "http", "host": sandbox.url, "login": "sandbox-client-id", "password": "sandbox-client-secret",
        "extra": {"refresh_token": "sandbox-refresh-token", "lwa_url": f"{sandbox.url}/auth/o2/token",
                  "rate_limit": False},
    })


@pytest.fixture
def shop(tmp_path):
    store = ShopStore.from_url(f"sqlite:///{tmp_path / 'shop.db'}")
    store.migrate()
    demo.seed_products(store)
    yield store
    store.engine.dispose()


def _entries(**kw) -> list[Entry]:
    return [Entry(marketplace="amazon", country=c, conn_id="amazon_region", onboarding="none",
                  **{"fba_extra_days": 0, **kw}) for c in COUNTRIES]


def _channel(entry: Entry) -> AmazonChannel:
    return AmazonChannel(AmazonSpApiHook(entry.conn_id, backoff=0.01, max_backoff=0.05), entry.country)


def _window() -> Window:
    now = datetime.now(UTC).replace(microsecond=0)
    return Window(now - timedelta(days=2), now - timedelta(minutes=5))


def _searches(sandbox) -> int:
    return sandbox.get_admin("/requests")["searchOrders"]


def _sandbox_ids(sandbox, country: str, window: Window) -> set[str]:
    out = set()
    for order in sandbox.get_admin("/orders", marketplaceId=amazon_marketplace(country).marketplace_id)["orders"]:
        updated = datetime.fromisoformat(order["lastUpdatedTime"].replace("Z", "+00:00"))
        if window.start <= updated <= window.end:
            out.add(order["orderId"])
    return out


def _inbox(store: ShopStore) -> dict[str, set[str]]:
    ic = t.inbox.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(ic.country, ic.marketplace_order_id)).all()
    out: dict[str, set[str]] = {}
    for country, order_id in rows:
        out.setdefault(country, set()).add(order_id)
    return out


def test_the_first_lookup_lists_every_country_once_and_the_others_make_no_call(sandbox, shop):
    entries = _entries()
    window = _window()
    region = steps.region_of(entries[0], entries)
    assert region is not None and region.countries == ("DE", "FR", "IT")
    before = _searches(sandbox)
    first = steps.lookup(_channel(entries[0]), shop, entries[0], window, region=region)
    listed = _searches(sandbox) - before
    assert first["covered"] == 0 and listed == first["pages"]
    inbox = _inbox(shop)
    for country in COUNTRIES:  # each order under its own country, every one of them
        assert inbox.get(country, set()) == _sandbox_ids(sandbox, country, window), country
    assert first["region_found"] == sum(len(ids) for ids in inbox.values())
    assert first["found"] == len(inbox["IT"])
    for entry in entries[1:]:
        counts = steps.lookup(_channel(entry), shop, entry, window, region=region)
        assert counts["covered"] == 1 and counts["pages"] == 0
        # each country keeps its own figure: its orders of the window the shared listing brought
        assert counts["found"] == len(_sandbox_ids(sandbox, entry.country, window)) > 0
    assert _searches(sandbox) - before == listed  # the other countries made no call
    # every country imports its own orders from the shared listing
    fr = steps.import_orders(_channel(entries[1]), shop, entries[1])
    assert fr["imported"] > 0
    assert shop.count("orders", country="FR") == fr["imported"]


def test_a_window_ending_within_the_slack_is_covered_a_later_one_lists_from_the_watermark(sandbox, shop):
    entries = _entries()
    region = steps.region_of(entries[0], entries)
    full = _window()
    window = Window(full.start, full.end - timedelta(hours=2))
    steps.lookup(_channel(entries[0]), shop, entries[0], window, region=region)
    assert shop.covered_until(f"{region.scope}:all") == window.end
    soon = Window(window.end - timedelta(minutes=30), window.end + timedelta(minutes=1))
    assert steps.lookup(_channel(entries[2]), shop, entries[2], soon, region=region)["covered"] == 1
    later = Window(window.end, window.end + timedelta(minutes=30))
    before = _searches(sandbox)
    counts = steps.lookup(_channel(entries[2]), shop, entries[2], later, region=region)
    assert counts["covered"] == 0 and _searches(sandbox) - before == counts["pages"]
    assert shop.covered_until(f"{region.scope}:all") == later.end
    # the listing started from the watermark less the overlap: every country's orders of that span
    span = Window(window.end - timedelta(minutes=30), later.end)
    for country in COUNTRIES:
        assert _sandbox_ids(sandbox, country, span) <= _inbox(shop).get(country, set())


def test_a_backfill_reads_exactly_its_own_window_and_country(sandbox, shop):
    entries = _entries()
    window = _window()
    counts = steps.lookup(_channel(entries[1]), shop, entries[1], window, region=None)
    assert "covered" not in counts
    assert set(_inbox(shop)) == {"FR"}
    assert _inbox(shop)["FR"] == _sandbox_ids(sandbox, "FR", window)


@pytest.mark.services
def test_concurrent_lookups_list_once_and_stage_nothing_twice(sandbox, shop_url):
    store = ShopStore.from_url(shop_url)
    store.migrate()
    demo.seed_products(store)
    entries = _entries()
    region = steps.region_of(entries[0], entries)
    window = _window()
    before = _searches(sandbox)
    results: dict[str, dict] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(entries))

    def run(entry: Entry) -> None:
        try:
            barrier.wait()
            results[entry.country] = steps.lookup(_channel(entry), store, entry, window, region=region)
            steps.import_orders(_channel(entry), store, entry)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in entries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        listers = [c for c, r in results.items() if r["covered"] == 0]
        assert len(listers) == 1, results  # one listing, the others waited and found it covered
        assert _searches(sandbox) - before == results[listers[0]]["pages"]
        ic, oc = t.inbox.c, t.orders.c
        with store.engine.connect() as conn:
            staged_twice = conn.execute(select(func.count()).select_from(
                select(ic.marketplace_order_id).group_by(ic.marketplace, ic.country, ic.marketplace_order_id)
                .having(func.count() > 1).subquery())).scalar()
            imported_twice = conn.execute(select(func.count()).select_from(
                select(oc.marketplace_order_id).group_by(oc.marketplace_order_id).having(func.count() > 1).subquery())).scalar()
        assert staged_twice == 0 and imported_twice == 0
        for country in COUNTRIES:
            assert _inbox(store).get(country, set()) == _sandbox_ids(sandbox, country, window)
    finally:
        store.engine.dispose()


def test_the_fba_re_read_is_region_wide_for_fba_importers_and_in_chunks(sandbox, shop):
    entries = [e.model_copy(update={"fba_extra_days": 1, "import_fba": e.country == "DE"}) for e in _entries()]
    region = steps.region_of(entries[0], entries)
    assert region.fba_countries == ("DE",)
    full = _window()
    window = Window(full.start, full.end - timedelta(hours=2))
    steps.lookup(_channel(entries[0]), shop, entries[0], window, region=region)  # IT: no FBA re-read
    assert shop.covered_until(f"{region.scope}:fba") is None
    steps.lookup(_channel(entries[2]), shop, entries[2], window, region=region)  # DE lists the shifted chunk
    fba_until = shop.covered_until(f"{region.scope}:fba")
    assert fba_until == window.end - timedelta(days=1)
    before = _searches(sandbox)
    nxt = Window(window.end - timedelta(minutes=30), window.end + timedelta(minutes=30))
    # 30 minutes on: the main listing is due, the FBA chunk is not (4 hours)
    counts = steps.lookup(_channel(entries[2]), shop, entries[2], nxt, region=region)
    assert counts["covered"] == 0 and _searches(sandbox) - before == counts["pages"]
    assert shop.covered_until(f"{region.scope}:fba") == fba_until


def test_the_recovery_lists_once_per_seller_and_day_and_every_country_imports_its_own(sandbox, shop):
    entries = _entries()
    region = steps.region_of(entries[0], entries)
    end = datetime.now(UTC).replace(microsecond=0)  # recent: each task's end is clamped differently
    before = _searches(sandbox)
    results = {}
    for entry in entries:
        window = steps.recovery_window(entry, "doublecheck", end)
        results[entry.country] = steps.recover(_channel(entry), shop, entry, "doublecheck", window, region=region)
    assert _searches(sandbox) - before == results["IT"]["pages"] > 0  # one listing, by the first task
    assert results["FR"]["covered"] == 1 and results["DE"]["covered"] == 1
    for country in COUNTRIES:  # each country imported its own unsettled merchant orders
        assert results[country]["recovered"] > 0
        assert shop.count("orders", country=country) == results[country]["recovered"]
