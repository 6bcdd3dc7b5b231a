"""The region-wide listing's watermark and lock (shop/listings.py, steps/region.py) on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ordersync.steps.region import listed_once

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_one_lister_at_a_time_a_dead_one_loses_its_lease(store):
    lease = timedelta(minutes=15)
    first = store.take_listing("c:EU:all", lease, now=T0)
    assert first.token is not None and first.covered_until is None
    assert store.take_listing("c:EU:all", lease, now=T0 + timedelta(minutes=1)).token is None  # held
    # the lister died without finishing: once its lease ran out, the next lookup takes over
    second = store.take_listing("c:EU:all", lease, now=T0 + timedelta(minutes=16))
    assert second.token is not None and second.token != first.token
    store.finish_listing("c:EU:all", second.token, T0)
    # the dead lister's late finish only moves the watermark forward, never back
    store.finish_listing("c:EU:all", first.token, T0 - timedelta(hours=1))
    assert store.covered_until("c:EU:all") == T0
    assert store.take_listing("c:EU:all", lease).token is not None  # released


def test_a_failed_listing_releases_the_lock_and_moves_nothing(store):
    def fail(_covered, _renew):
        raise RuntimeError("marketplace down")

    with pytest.raises(RuntimeError):
        listed_once(store, "c:EU:all", lambda covered: covered is None, fail)
    assert store.covered_until("c:EU:all") is None
    made = listed_once(store, "c:EU:all", lambda covered: covered is None, lambda _c, renew: renew() and T0)
    assert made and store.covered_until("c:EU:all") == T0
    # covered now: nothing to list
    assert not listed_once(store, "c:EU:all", lambda covered: covered is None, fail)
