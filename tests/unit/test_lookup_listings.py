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
