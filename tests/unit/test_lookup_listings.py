"""Which listings a lookup makes, outside Amazon's region-wide listing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ordersync import steps
from ordersync.config import Entry
from ordersync.model import Fulfillment, Window

pytestmark = pytest.mark.services
NOW = datetime.now(timezone.utc)


class RecordingChannel:
    """A channel with no region-wide listing and no acceptance: records the listings asked for."""

    name, country = "lengow", "FR"

    def __init__(self):
        self.calls: list[tuple[Window, Fulfillment | None]] = []

    def clamp(self, window, now):
        return window

    def pages(self, window, *, fulfilment=None):
        self.calls.append((window, fulfilment))
        return iter([])

    def open_pages(self, since):
        return iter([])

    def parse(self, raw):
        raise AssertionError("nothing listed, nothing parsed")


def test_a_window_is_read_again_shifted_back_for_marketplace_fulfilled_orders(store):
    # an update made while a run failed (an outage) lies in no later window: the shifted re-read
    # is what brings a marketplace-fulfilled Lengow order's shipment in
    entry = Entry(marketplace="lengow", country="FR", conn_id="c", lengow_marketplace="amazon_fr", fba_extra_days=2)
    channel = RecordingChannel()
    window = Window(NOW - timedelta(hours=1), NOW)
    steps.lookup(channel, store, entry, window, now=NOW)
    assert channel.calls == [(window, None),
                             (Window(window.start - timedelta(days=2), window.end - timedelta(days=2)), Fulfillment.MARKETPLACE)]


class FailingChannel(RecordingChannel):
    """The marketplace is down: every listing fails."""

    def pages(self, window, *, fulfilment=None):
        raise ConnectionError("503 Service Unavailable")


def test_after_failed_runs_the_next_scheduled_run_reads_from_where_the_last_listing_ended(store):
    # an outage fails two runs; a cancellation made then must reach the shop with the next run
    # (before the warehouse ships the order), not with the next day's recovery
    entry = Entry(marketplace="lengow", country="FR", conn_id="c", lengow_marketplace="amazon_fr", fba_extra_days=0,
                  overlap_minutes=30)
    half = timedelta(minutes=30)
    t0 = NOW - 4 * half

    def scheduled(channel, start):
        window = steps.catch_up(store, entry, steps.run_window(entry, start, start + half))
        steps.lookup(channel, store, entry, window, now=NOW, watermark=steps.own_scope(entry))
        return window

    ok = RecordingChannel()
    first = scheduled(ok, t0)
    assert first == Window(t0 - half, t0 + half)  # no watermark yet: the run's own window
    for start in (t0 + half, t0 + 2 * half):  # the outage
        with pytest.raises(ConnectionError):
            scheduled(FailingChannel(), start)
    third = scheduled(ok, t0 + 3 * half)
    assert third == Window(t0 + half - half, t0 + 4 * half)  # from the last listing's end, less the overlap
    assert scheduled(ok, t0 + 4 * half) == Window(t0 + 4 * half - half, t0 + 5 * half)  # caught up: own window again
    # backfills and manual look-backs read exactly their window: no watermark given, none moved
    steps.lookup(ok, store, entry, Window(t0 - 10 * half, t0 - 9 * half), now=NOW)
    assert store.covered_until(steps.own_scope(entry)) == t0 + 5 * half


def test_catch_up_never_reaches_further_back_than_two_days(store):
    entry = Entry(marketplace="cdiscount", country="FR", conn_id="c", fba_extra_days=0)
    store.advance_watermark(steps.own_scope(entry), NOW - timedelta(days=9))
    window = steps.catch_up(store, entry, Window(NOW - timedelta(hours=1), NOW))
    assert window == Window(NOW - timedelta(days=2), NOW)
