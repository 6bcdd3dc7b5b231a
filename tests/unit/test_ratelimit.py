"""Token buckets: the usage-plan arithmetic, and the shared state on SQLite, PostgreSQL, MariaDB."""

from __future__ import annotations

import threading

import pytest

from ordersync.marketplaces import AMAZON_USAGE_PLANS, UsagePlan
from ordersync.ratelimit import HEADROOM, DatabaseBuckets, LocalBuckets, RateLimiter
from ordersync.shop.store import ShopStore


class Clock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_published_plans():
    assert AMAZON_USAGE_PLANS["searchOrders"] == UsagePlan(0.0056, 20)
    assert AMAZON_USAGE_PLANS["getOrder"] == UsagePlan(0.5, 30)
    assert AMAZON_USAGE_PLANS["confirmShipment"] == UsagePlan(2.0, 10)


def test_a_burst_then_the_steady_rate():
    clock = Clock()
    limiter = RateLimiter("amazon_eu:EU", LocalBuckets(), plans={"op": UsagePlan(0.5, 5)}, clock=clock,
                          sleep=clock.sleep)
    start = clock.now
    for _ in range(5 - HEADROOM + 3):
        limiter.acquire("op")
    # the burst (less the headroom) is free, then one request every 2 s
    assert clock.now - start == pytest.approx(3 * 2.0)


def test_unknown_operations_and_scale():
    clock = Clock()
    limiter = RateLimiter("s", LocalBuckets(), plans={"op": UsagePlan(1.0, 2)}, scale=10, clock=clock,
                          sleep=clock.sleep)
    assert limiter.acquire("token") == 0.0
    limiter.acquire("op")
    assert limiter.acquire("op") == pytest.approx(0.1)


def test_database_buckets_are_shared_by_processes_and_never_overspend(shop_url):
    """Three 'processes' (engines) take 30 tokens at one instant: 10 free, then one per second each."""
    stores = [ShopStore.from_url(shop_url) for _ in range(3)]
    stores[0].migrate()
    waits: list[float] = []
    lock = threading.Lock()

    def take(store):
        state = DatabaseBuckets(store.engine)
        for _ in range(10):
            wait = state.take("amazon_eu:EU:searchOrders", 1.0, 10, 5_000.0)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s in stores:
        s.engine.dispose()
    assert sorted(round(w, 3) for w in waits) == [0.0] * 10 + [float(i) for i in range(1, 21)]


def test_database_bucket_refills_with_time(shop_url):
    store = ShopStore.from_url(shop_url)
    store.migrate()
    state = DatabaseBuckets(store.engine)
    assert [state.take("k", 2.0, 2, 100.0) for _ in range(2)] == [0.0, 0.0]
    assert state.take("k", 2.0, 2, 100.0) == pytest.approx(0.5)
    assert state.take("k", 2.0, 2, 200.0) == 0.0  # full again, never above the burst
    assert state.take("k", 2.0, 2, 200.0) == 0.0
    assert state.take("k", 2.0, 2, 200.0) == pytest.approx(0.5)
    store.engine.dispose()
