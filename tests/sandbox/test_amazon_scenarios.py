"""The Amazon channel against the sandbox over real HTTP, through the sync steps and a real store.

Each test drives ``steps.lookup`` / ``steps.import_orders`` / ``steps.fulfill`` with a real
``AmazonSpApiHook`` on an Airflow connection from ``AIRFLOW_CONN_...`` and checks what the shop
holds and what the sandbox received. Faults and usage plans are switched on per test through the
sandbox admin API; nothing here asserts on timings.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ordersync import demo, steps
from ordersync.channels.amazon import AmazonChannel
from ordersync.config import Entry
from ordersync.errors import MarketplaceAuthError, MarketplaceUnavailable
from ordersync.hooks import AmazonSpApiHook
from ordersync.marketplaces import amazon_marketplace
from ordersync.model import Window
from ordersync.ratelimit import DatabaseBuckets
from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore

from tests.helpers.sandbox import start_sandbox

IT = amazon_marketplace("IT").marketplace_id
TIME_SCALE = 1500  # searchOrders refills 8.4 tokens/s instead of one every three minutes


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(seed=11, days=2, orders_per_day=60, countries="IT,FR") as running:
        yield running


def _connection(name: str, sandbox, **extra) -> str:
    os.environ[f"AIRFLOW_CONN_{name.upper()}"] = json.dumps({
        "conn_type": "http", "host": sandbox.url, "login": "sandbox-client-id",
        "password": extra.pop("password", "sandbox-client-secret"),
        "extra": {"refresh_token": "sandbox-refresh-token", "lwa_url": f"{sandbox.url}/auth/o2/token", **extra},
    })
    return name


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.post_admin("/reset")
    sandbox.post_admin("/settings", {"usage_plans": False, "time_scale": TIME_SCALE})
    AmazonSpApiHook._tokens.clear()
    _connection("amazon_scn", sandbox, rate_limit=False)
    _connection("amazon_paced", sandbox, rate_scale=TIME_SCALE)


@pytest.fixture
def shop(tmp_path):
    store = ShopStore.from_url(f"sqlite:///{tmp_path / 'shop.db'}")
    store.migrate()
    demo.seed_products(store)
    yield store
    store.engine.dispose()


def _entry(country: str = "IT", conn_id: str = "amazon_scn", **kw) -> Entry:
    return Entry(marketplace="amazon", country=country, conn_id=conn_id,
                 **{"onboarding": "none", "fba_extra_days": 0, **kw})


def _channel(entry: Entry, **hook_kw) -> AmazonChannel:
    # backoff in milliseconds: the sandbox's faults are short
    hook = AmazonSpApiHook(entry.conn_id, backoff=0.01, max_backoff=0.05, **hook_kw)
    return AmazonChannel(hook, entry.country, entry.page_size)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _history_window() -> Window:
    return Window(_now() - timedelta(days=3), _now() - timedelta(minutes=5))


def _orders_in(sandbox, window: Window, marketplace_id: str = IT) -> set[str]:
    out = set()
    for order in sandbox.get_admin("/orders", marketplaceId=marketplace_id)["orders"]:
        updated = datetime.fromisoformat(order["lastUpdatedTime"].replace("Z", "+00:00"))
        if window.start <= updated <= window.end:
            out.add(order["orderId"])
    return out


def _inbox_ids(store: ShopStore, country: str = "IT") -> list[str]:
    ic = t.inbox.c
    with store.engine.connect() as conn:
        return list(conn.execute(select(ic.marketplace_order_id).where(ic.country == country)).scalars())


def test_an_order_unshipped_a_day_after_creation_is_imported_by_the_later_run(sandbox, shop):
    entry = _entry()
    created = _now() - timedelta(days=2)
    order = sandbox.post_admin("/orders", {
        "marketplaceId": IT, "fulfillmentStatus": "PENDING", "items": [{"sellerSku": "OS-MUG-RED", "quantity": 1}],
        "createdTime": created.isoformat(), "lastUpdatedTime": created.isoformat()})["order"]
    monday = Window(created - timedelta(minutes=30), created + timedelta(minutes=30))
    steps.lookup(_channel(entry), shop, entry, monday)
    steps.import_orders(_channel(entry), shop, entry)
    assert shop.count("orders", marketplace_order_id=order["orderId"]) == 0
    assert shop.count("inbox", marketplace_order_id=order["orderId"], state="waiting") == 1

    tuesday = created + timedelta(days=1)
    sandbox.post_admin(f"/orders/{order['orderId']}",
                       {"fulfillmentStatus": "UNSHIPPED", "lastUpdatedTime": tuesday.isoformat()})
    steps.lookup(_channel(entry), shop, entry, Window(tuesday - timedelta(minutes=30), tuesday + timedelta(minutes=1)))
    steps.import_orders(_channel(entry), shop, entry)
    assert shop.count("orders", marketplace_order_id=order["orderId"]) == 1


def test_a_429_storm_in_the_middle_of_paging_loses_nothing(sandbox, shop):
    entry = _entry(page_size=10)
    window = _history_window()
    expected = _orders_in(sandbox, window)
    assert len(expected) > 40  # several pages
    sandbox.post_admin("/faults", {"operation": "searchOrders", "status": 429, "count": 8, "after": 2})
    channel = _channel(entry)
    counts = steps.lookup(channel, shop, entry, window)
    staged = _inbox_ids(shop)
    assert sorted(staged) == sorted(expected)  # every order, once
    assert counts["found"] == len(expected)
    assert channel.hook.stats["throttled"] == 8
    assert sandbox.get_admin("/throttled")["injected"] == {"searchOrders": 8}


def test_an_expired_paging_token_resumes_from_the_last_order_seen(sandbox, shop):
    entry = _entry(page_size=10)
    window = _history_window()
    expected = _orders_in(sandbox, window)
    sandbox.post_admin("/faults", {"stale_page_tokens": 2})
    channel = _channel(entry)
    counts = steps.lookup(channel, shop, entry, window)
    assert sorted(_inbox_ids(shop)) == sorted(expected)
    assert channel.restarts == 2
    pages = -(-len(expected) // 10)
    # resuming re-reads at most the boundary page, never the listing from scratch
    assert counts["pages"] <= pages + 2
    assert sandbox.get_admin("/requests")["searchOrders"] <= pages + 4


def test_a_5xx_burst_is_retried(sandbox, shop):
    entry = _entry(page_size=20)
    window = _history_window()
    sandbox.post_admin("/faults", {"operation": "searchOrders", "status": 503, "count": 3, "after": 1})
    channel = _channel(entry)
    counts = steps.lookup(channel, shop, entry, window)
    assert counts["found"] == len(_orders_in(sandbox, window))
    assert channel.hook.stats["retried"] == 3


def test_bad_credentials_fail_at_once_naming_the_connection(sandbox, shop):
    _connection("amazon_bad", sandbox, password="wrong-secret", rate_limit=False)
    entry = _entry(conn_id="amazon_bad")
    with pytest.raises(MarketplaceAuthError, match=r"'amazon_bad'.*client secret \(password\)"):
        steps.lookup(_channel(entry), shop, entry, _history_window())
    assert sandbox.get_admin("/requests") == {"token": 1, "searchOrders": 0, "getOrder": 0, "confirmShipment": 0}


def test_an_expired_access_token_is_refreshed_once(sandbox, shop):
    entry = _entry(page_size=100)
    channel = _channel(entry)
    steps.lookup(channel, shop, entry, _history_window())
    sandbox.post_admin("/clock", {"advance_seconds": 3700})  # the cached token has expired on Amazon
    steps.lookup(channel, shop, entry, _history_window())
    assert sandbox.get_admin("/requests")["token"] == 2


def _import_everything(sandbox, shop, entry) -> None:
    steps.lookup(_channel(entry), shop, entry, _history_window())
    steps.import_orders(_channel(entry), shop, entry)


def test_a_retried_fulfillment_sends_each_confirmation_once(sandbox, shop):
    entry = _entry(carrier_map={"brt": "BRT"})
    _import_everything(sandbox, shop, entry)
    shipped = demo.ship_orders(shop, entry, 3, carrier="brt")
    assert len(shipped) == 3
    # the marketplace fails the second confirmation: the task fails, that package is left in doubt
    sandbox.post_admin("/faults", {"operation": "confirmShipment", "status": 503, "count": 10, "after": 1})
    with pytest.raises(MarketplaceUnavailable, match="confirmShipment|shipmentConfirmation|outcome unknown|503"):
        steps.fulfill(_channel(entry), shop, entry)
    sandbox.http.delete(sandbox.url + "/_admin/faults", timeout=10).raise_for_status()
    # the retry (lease over): checks the doubtful package on Amazon, sends the rest
    steps.fulfill(_channel(entry), shop, entry, lease=timedelta(0))
    again = steps.fulfill(_channel(entry), shop, entry, lease=timedelta(0))
    assert again["confirmed"] == 0
    accepted = [c for c in sandbox.get_admin("/confirmations")["confirmations"] if c["accepted"]]
    assert sorted(c["orderId"] for c in accepted) == sorted(shipped)


def test_two_packages_of_one_order_are_confirmed_separately_once_each(sandbox, shop):
    entry = _entry(carrier_map={"brt": "BRT"})
    now = _now() - timedelta(hours=1)
    order = sandbox.post_admin("/orders", {
        "marketplaceId": IT, "fulfillmentStatus": "UNSHIPPED",
        "items": [{"sellerSku": "OS-MUG-RED", "quantity": 2}, {"sellerSku": "OS-MUG-BLU", "quantity": 1}],
        "createdTime": now.isoformat(), "lastUpdatedTime": now.isoformat()})["order"]
    _import_everything(sandbox, shop, entry)
    assert shop.count("orders", marketplace_order_id=order["orderId"]) == 1
    first, second = (i["orderItemId"] for i in order["orderItems"])
    shop.add_package("amazon", "IT", order["orderId"], "1", "TRK1", [(first, 1)], carrier="brt",
                     shipping_method="Standard")
    shop.add_package("amazon", "IT", order["orderId"], "2", "TRK2", [(first, 1), (second, 1)], carrier="poste")
    counts = steps.fulfill(_channel(entry), shop, entry)
    assert counts["confirmed"] == 2
    assert steps.fulfill(_channel(entry), shop, entry)["confirmed"] == 0
    sent = sandbox.get_admin("/confirmations", orderId=order["orderId"])["confirmations"]
    assert [(c["packageReferenceId"], c["carrierCode"], c["carrierName"], c["accepted"]) for c in sent] == [
        ("1", "BRT", None, True), ("2", "Other", "poste", True)]
    assert sent[0]["shippingMethod"] == "Standard"
    assert sent[1]["items"] == [{"orderItemId": first, "quantity": 1}, {"orderItemId": second, "quantity": 1}]
    held = sandbox.get_admin(f"/orders/{order['orderId']}")["order"]
    assert held["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_a_rejected_confirmation_is_kept_with_amazons_message(sandbox, shop):
    entry = _entry()
    _import_everything(sandbox, shop, entry)
    (order_id,) = demo.ship_orders(shop, entry, 1)
    sandbox.post_admin(f"/orders/{order_id}", {"fulfillmentStatus": "CANCELLED"})
    counts = steps.fulfill(_channel(entry), shop, entry)
    assert counts["rejected"] == 1
    sc = t.shipment_confirmations.c
    with shop.engine.connect() as conn:
        state, message = conn.execute(select(sc.state, sc.message)).one()
    assert state == "rejected" and "CANCELLED" in message


def test_two_countries_of_one_seller_share_the_usage_plan_and_are_never_throttled(sandbox, shop):
    sandbox.post_admin("/settings", {"usage_plans": True, "time_scale": TIME_SCALE})
    entries = [_entry("IT", "amazon_paced", page_size=5), _entry("FR", "amazon_paced", page_size=5)]
    window = _history_window()
    results, errors = {}, []

    def run(entry):
        try:  # each "task" has its own hook and engine; only the shop database connects them
            store = ShopStore.from_url(str(shop.engine.url))
            channel = _channel(entry, limiter_state=DatabaseBuckets(store.engine))
            results[entry.country] = (steps.lookup(channel, store, entry, window), channel.hook.stats)
            store.engine.dispose()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in entries]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    searches = sandbox.get_admin("/requests")["searchOrders"]
    assert searches > 20  # more than one burst: the limiter had to pace
    assert sandbox.get_admin("/throttled")["throttled"] == {}
    for country, (counts, stats) in results.items():
        assert counts["found"] == len(_orders_in(sandbox, window, amazon_marketplace(country).marketplace_id))
        assert stats["throttled"] == 0


def test_first_run_onboards_every_open_order_whatever_its_age_and_nothing_closed(sandbox, shop):
    entry = _entry(onboarding="unshipped")
    long_ago = _now() - timedelta(days=100)
    spec = {"marketplaceId": IT, "items": [{"sellerSku": "OS-MUG-RED", "quantity": 2}],
            "createdTime": long_ago.isoformat(), "lastUpdatedTime": (long_ago + timedelta(days=1)).isoformat()}
    unshipped = sandbox.post_admin("/orders", {**spec, "fulfillmentStatus": "UNSHIPPED"})["order"]["orderId"]
    partly = sandbox.post_admin("/orders", {**spec, "fulfillmentStatus": "PARTIALLY_SHIPPED"})["order"]["orderId"]
    shipped = sandbox.post_admin("/orders", {**spec, "fulfillmentStatus": "SHIPPED"})["order"]["orderId"]
    cancelled = sandbox.post_admin("/orders", {**spec, "fulfillmentStatus": "CANCELLED"})["order"]["orderId"]
    window = Window(_now() - timedelta(minutes=60), _now() - timedelta(minutes=5))
    counts = steps.lookup(_channel(entry), shop, entry, window)
    staged = set(_inbox_ids(shop))
    assert {unshipped, partly} <= staged and not {shipped, cancelled} & staged
    open_now = {o["orderId"] for o in sandbox.get_admin("/orders", marketplaceId=IT)["orders"]
                if o["fulfillment"]["fulfillmentStatus"] in ("UNSHIPPED", "PARTIALLY_SHIPPED")}
    assert counts["onboarded"] == len(open_now)
    # one meaning per count: an order both listings returned is staged and counted once
    assert counts["staged"] == len(staged) == counts["new"] + counts["changed"] + counts["unchanged"]
    assert counts["new"] == len(staged) and counts["unchanged"] == 0  # an empty shop: everything is new
    assert max(counts["found"], counts["onboarded"]) <= counts["staged"] <= counts["found"] + counts["onboarded"]
    shop.record_run(entry, "lookup", "run-1", counts, window)
    assert steps.lookup(_channel(entry), shop, entry, window)["onboarded"] == 0  # only the first run


def test_fba_orders_are_read_again_over_the_window_shifted_back(sandbox, shop):
    window = Window(_now() - timedelta(hours=2), _now() - timedelta(minutes=5))
    # FBA orders surface late, with an older update time: read again two days later
    late = window.start - timedelta(days=2) + timedelta(minutes=30)
    fba = sandbox.post_admin("/orders", {
        "marketplaceId": IT, "fulfilledBy": "AMAZON", "fulfillmentStatus": "SHIPPED",
        "items": [{"sellerSku": "OS-MUG-RED", "quantity": 1}],
        "createdTime": late.isoformat(), "lastUpdatedTime": late.isoformat()})["order"]["orderId"]
    steps.lookup(_channel(_entry(fba_extra_days=0)), shop, _entry(fba_extra_days=0), window)
    assert fba not in _inbox_ids(shop)
    # a backfill-like run reads exactly its window: no shifted re-read
    entry = _entry(fba_extra_days=2, import_fba=True)
    assert steps.lookup(_channel(entry), shop, entry, window)["fba_found"] == 0
    # a scheduled run of an entry importing FBA orders: the seller's region-wide shifted chunk
    counts = steps.lookup(_channel(entry), shop, entry, window, region=steps.region_of(entry, [entry]))
    assert fba in _inbox_ids(shop)
    assert counts["fba_found"] >= 1


def test_a_throttling_storm_longer_than_any_cap_never_fails_the_task(sandbox, shop):
    waited: list[float] = []
    entry = _entry()
    # waits are only recorded: 25 429s at up to 60 s each is far beyond the former 900 s cap
    channel = AmazonChannel(AmazonSpApiHook(entry.conn_id, backoff=30, max_backoff=60, sleep=waited.append),
                            "IT")
    sandbox.post_admin("/faults", {"operation": "searchOrders", "status": 429, "count": 25})
    counts = steps.lookup(channel, shop, entry, _history_window())
    assert counts["found"] == len(_orders_in(sandbox, _history_window()))
    assert len(waited) == 25 and sum(waited) > 900


def test_an_outage_is_waited_out_with_backoff(sandbox, shop):
    entry = _entry()
    sandbox.post_admin("/faults", {"outage_seconds": 0.5})
    channel = AmazonChannel(AmazonSpApiHook(entry.conn_id, backoff=0.2, max_backoff=1.0), "IT")
    counts = steps.lookup(channel, shop, entry, _history_window())
    assert counts["found"] > 0 and channel.hook.stats["retried"] >= 1


def test_a_token_endpoint_that_stays_down_is_unavailable_not_bad_credentials(sandbox, shop):
    from ordersync.errors import MarketplaceUnavailable

    entry = _entry()
    sandbox.post_admin("/faults", {"operation": "token", "status": 503, "count": 3})
    channel = AmazonChannel(AmazonSpApiHook(entry.conn_id, max_retries=2, backoff=0.01), "IT")
    with pytest.raises(MarketplaceUnavailable):
        steps.lookup(channel, shop, entry, _history_window())


def test_connection_extras_set_how_long_a_call_rides_out_5xx(sandbox, shop):
    """extra.max_retries / extra.backoff: an outage fails the task quickly instead of after ~30 s,
    and the two keys are never sent to Amazon as headers."""
    from ordersync.errors import MarketplaceUnavailable

    entry = _entry(conn_id=_connection("amazon_quick", sandbox, rate_limit=False, max_retries=1, backoff=0.01))
    sandbox.post_admin("/faults", {"operation": "searchOrders", "status": 503, "count": 2})
    waited = []
    hook = AmazonSpApiHook(entry.conn_id, sleep=waited.append)
    with pytest.raises(MarketplaceUnavailable, match="503"):
        steps.lookup(AmazonChannel(hook, "IT"), shop, entry, _history_window())
    assert (hook.max_retries, hook.backoff, waited) == (1, 0.01, [0.01])
    assert not {"max_retries", "backoff"} & set(hook.get_conn().headers)


def test_a_slow_answer_past_the_timeout_is_retried(sandbox, shop):
    entry = _entry()
    sandbox.post_admin("/faults", {"operation": "searchOrders", "delay_seconds": 3, "count": 1})
    channel = AmazonChannel(AmazonSpApiHook(entry.conn_id, timeout=0.5, backoff=0.01), "IT")
    counts = steps.lookup(channel, shop, entry, _history_window())
    assert counts["found"] == len(_orders_in(sandbox, _history_window()))
    assert channel.hook.stats["retried"] == 1
