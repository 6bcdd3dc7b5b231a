"""lookup: list the marketplace orders of a window and stage every one of them in the inbox."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import AcceptFirstChannel, Channel
from ordersync.model import Fulfillment, Window
from ordersync.shop.store import ShopStore, utcnow
from ordersync.validation import readable_id

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

# How far back onboarding looks for orders still to ship. Amazon documents no limit on
# createdAfter for searchOrders; an order open for longer than this is not a real open order.
ONBOARDING_LOOKBACK = timedelta(days=180)


def run_window(
    entry: Entry,
    interval_start: datetime,
    interval_end: datetime,
    lookback_hours: float | None = None,
) -> Window:
    """The window a run reads: its data interval widened back by the entry's overlap.

    The overlap catches orders whose update landed just before the previous run's end was read;
    the entry's ``lookback`` widens every window to at least that span; a manual run can instead
    look back ``lookback_hours`` from the interval's end.
    """
    if lookback_hours:
        return Window(interval_end - timedelta(hours=float(lookback_hours)), interval_end)
    start = interval_start - timedelta(minutes=entry.overlap_minutes)
    if entry.lookback is not None:  # "look N hours/days back" of shop plugins: never narrows the interval
        start = min(start, interval_end - entry.lookback)
    return Window(start, interval_end)


def lookup(channel: Channel, store: ShopStore, entry: Entry, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """List the orders updated in the window and stage every one of them in the inbox.

    More listings when they apply: Amazon-fulfilled orders over the window shifted
    ``fba_extra_days`` back (they show up late), on accept-first channels every order still
    waiting for acceptance, and on the entry's very first lookup (``onboarding: unshipped``)
    every order still to ship, whatever its age.
    """
    counts = {"found": 0, "new": 0, "changed": 0, "unchanged": 0, "pages": 0, "unreadable": 0,
              "fba_found": 0, "onboarded": 0}
    if isinstance(channel, AcceptFirstChannel):
        counts["waiting_listed"] = 0
    now = now or utcnow()
    first_run = entry.onboarding == "unshipped" and not store.has_lookup(entry.key)
    effective = channel.clamp(window, now)
    if effective is None and not first_run:
        log.info("window %s..%s is too recent for %s; nothing to read yet", window.start, window.end, entry.key)
        return counts

    def stage_all(pages) -> int:
        found = 0
        for page in pages:
            counts["pages"] += 1
            # every entry is staged: one without a readable id under a key derived from its
            # payload, listed as not imported (unreadable)
            readable = [o for o in page if readable_id(o.order_id)]
            counts["unreadable"] += len(page) - len(readable)
            staged = store.stage(entry.marketplace, entry.country, page)
            found += len(readable)
            counts["new"] += staged.new
            counts["changed"] += staged.changed
            counts["unchanged"] += staged.unchanged
        return found

    if effective is not None:
        counts["found"] += stage_all(channel.pages(effective))
        extra = timedelta(days=entry.fba_extra_days)
        if extra:
            # The same window again, shifted back: every moment is read once more, `extra` later,
            # catching FBA orders that surface late. Re-reading the whole widened span each run
            # would cost days of pages per run against searchOrders' 0.0056/s regional plan.
            fba = Window(effective.start - extra, effective.end - extra)
            counts["fba_found"] = stage_all(channel.pages(fba, fulfilment=Fulfillment.MARKETPLACE))
    if isinstance(channel, AcceptFirstChannel):
        # accept-first channels: every order still waiting for an answer, whatever its dates
        counts["waiting_listed"] = stage_all(channel.waiting_pages())
    if first_run:
        # Open orders of any age, created up to now
        counts["onboarded"] = stage_all(channel.open_pages(now - ONBOARDING_LOOKBACK))
    log.info("lookup %s counts: %s (window %s)", entry.key, counts,
             f"{effective.start} .. {effective.end}" if effective else "too recent")
    return counts
