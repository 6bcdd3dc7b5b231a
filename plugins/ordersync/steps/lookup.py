"""lookup: list the marketplace orders of a window and stage every one of them in the inbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import AcceptFirstChannel, Channel, RegionChannel
from ordersync.model import Fulfillment, Window
from ordersync.shop.store import ShopStore, utcnow
from ordersync.steps.collector import older_objects_frozen
from ordersync.steps.region import COVER_SLACK, MAX_CATCH_UP, Region, listed_once, stage_once, stage_split
from ordersync.validation import readable_id

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

# How far back onboarding looks for orders still to ship. Amazon documents no limit on
# createdAfter for searchOrders; an order open for longer than this is not a real open order.
ONBOARDING_LOOKBACK = timedelta(days=180)
# The shifted FBA re-read reads old data: one larger listing every few hours costs fewer
# requests than one per run, and loses no freshness (the data is already days old).
FBA_CHUNK = timedelta(hours=4)


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


def own_scope(entry: Entry) -> str:
    """The watermark of an entry's own listing (the entries not listed region-wide)."""
    return f"lookup:{entry.key}"


def catch_up(store: ShopStore, entry: Entry, window: Window) -> Window:
    """A scheduled run's window widened back to where the entry's last completed listing ended,
    less the overlap: what changed while runs failed (an outage) is read by the next run, not
    left to the daily recovery (a cancellation in it would otherwise meet a shipment first).
    At most ``MAX_CATCH_UP`` back; the recovery reads older days."""
    covered = store.covered_until(own_scope(entry))
    if covered is None:
        return window
    start = covered - timedelta(minutes=entry.overlap_minutes)
    if start >= window.start:
        return window
    return Window(max(start, window.end - MAX_CATCH_UP), window.end)


@older_objects_frozen()
def lookup(
    channel: Channel,
    store: ShopStore,
    entry: Entry,
    window: Window,
    now: datetime | None = None,
    region: Region | None = None,
    watermark: str | None = None,
) -> dict[str, Any]:
    """List the orders updated in the window and stage every one of them in the inbox.

    With ``region`` (scheduled runs of an Amazon entry) the listing is the seller's region-wide
    one: made by the first lookup of the interval for every country, found covered by the others
    (:mod:`ordersync.steps.region`); entries with ``import_fba`` also get the shifted FBA re-read,
    region-wide, a ``FBA_CHUNK`` at a time. Without it (backfills, ``lookback_hours``, an entry
    with ``lookback``, other marketplaces) the run reads exactly its own window. On accept-first
    channels every order still waiting for acceptance is listed too, and on the entry's very
    first lookup (``onboarding: unshipped``) every order still to ship, whatever its age.
    ``watermark`` (see :func:`catch_up`) moves to the end read once the listing is complete.
    """
    counts = {"found": 0, "staged": 0, "new": 0, "changed": 0, "unchanged": 0, "pages": 0, "unreadable": 0,
              "fba_found": 0, "onboarded": 0}
    if isinstance(channel, AcceptFirstChannel):
        counts["waiting_listed"] = 0
    now = now or utcnow()
    first_run = entry.onboarding == "unshipped" and not store.has_lookup(entry.key)
    effective = channel.clamp(window, now)
    if effective is None and not first_run:
        log.info("window %s..%s is too recent for %s; nothing to read yet", window.start, window.end, entry.key)
        return counts

    seen: set[str] = set()  # orders this lookup staged: each counted once whatever its listings

    def stage_all(pages) -> int:
        """Stage a listing's pages; the distinct readable orders it returned. Every entry is
        staged: one without a readable id under a key derived from its payload (unreadable)."""
        listed: set[str] = set()
        for page in pages:
            counts["pages"] += 1
            listed.update(o.order_id for o in page if readable_id(o.order_id))
            stage_once(store, entry.marketplace, entry.country, page, counts, readable_id, seen)
        return len(listed)

    if effective is not None and region is not None and isinstance(channel, RegionChannel):
        region_lookup(channel, store, entry, effective, region, counts, seen)
    elif effective is not None:
        _list_own(channel, entry, effective, stage_all, counts)
        if watermark is not None:
            store.advance_watermark(watermark, effective.end)
    if isinstance(channel, AcceptFirstChannel):
        # accept-first channels: every order still waiting for an answer, whatever its dates
        counts["waiting_listed"] = stage_all(channel.waiting_pages())
    if first_run:
        # Open orders of any age, created up to now
        counts["onboarded"] = stage_all(channel.open_pages(now - ONBOARDING_LOOKBACK))
    log.info("lookup %s counts: %s (window %s)", entry.key, counts,
             f"{effective.start} .. {effective.end}" if effective else "too recent")
    return counts


def _list_own(channel: Channel, entry: Entry, effective: Window, stage_all: Callable[[Any], int],
              counts: dict[str, Any]) -> None:
    """The entry's own window, and for Cdiscount and Lengow the shifted re-read."""
    counts["found"] += stage_all(channel.pages(effective))
    extra = timedelta(days=entry.fba_extra_days)
    if extra and not isinstance(channel, RegionChannel):
        # Cdiscount, Lengow: marketplace-fulfilled orders again, shifted back (an update made
        # while a run failed is read nowhere else); Amazon re-reads region-wide
        fba = Window(effective.start - extra, effective.end - extra)
        counts["fba_found"] = stage_all(channel.pages(fba, fulfilment=Fulfillment.MARKETPLACE))


def _renewing(pages, renew):
    for page in pages:
        yield page
        renew()  # our lease runs on while pages come


def region_lookup(channel: RegionChannel, store: ShopStore, entry: Entry, effective: Window, region: Region,
                  counts: dict[str, Any], seen: set[str]) -> None:
    """The region-wide listing of the seller (made here or by another country's lookup), and for
    entries importing FBA orders the shifted FBA re-read, region-wide and in chunks.

    Adds to ``counts``: ``found`` / ``fba_found`` (this country's orders in listings made here;
    when covered, its orders of the window that another lookup's listing staged), ``region_found``
    (every country's, listings made here), ``covered`` (1: another lookup's listing covered the
    window, no call made here).
    """
    counts.update(region_found=0, covered=0)
    overlap = timedelta(minutes=entry.overlap_minutes)

    def list_all(covered: datetime | None, renew) -> datetime:
        start = effective.start if covered is None else min(effective.start, covered - overlap)
        start = max(start, effective.end - MAX_CATCH_UP)
        pages = _renewing(channel.region_pages(Window(start, effective.end), region.countries), renew)
        found = stage_split(store, entry.marketplace, pages, counts, entry.country, readable_id, seen)
        counts["found"] += found.get(entry.country, 0)
        counts["region_found"] += sum(found.values())
        return effective.end

    def all_due(covered: datetime | None) -> bool:
        return covered is None or covered < effective.end - COVER_SLACK

    if not listed_once(store, f"{region.scope}:all", all_due, list_all):
        counts["covered"] = 1  # the country's own figure all the same: what the shared listing brought
        counts["found"] = len(store.staged_in(entry.marketplace, entry.country, effective.start, effective.end))
    extra = timedelta(days=entry.fba_extra_days)
    if not (entry.import_fba and extra):
        return
    # Every moment is read once more `extra` later, catching FBA orders that surface late;
    # only countries importing them, in chunks of FBA_CHUNK.
    target = effective.end - extra

    def list_fba(covered: datetime | None, renew) -> datetime:
        start = target - FBA_CHUNK if covered is None else covered - overlap
        start = max(start, target - MAX_CATCH_UP)
        pages = _renewing(channel.region_pages(Window(start, target), region.fba_countries,
                                               fulfilment=Fulfillment.MARKETPLACE), renew)
        found = stage_split(store, entry.marketplace, pages, counts, entry.country, readable_id, seen)
        counts["fba_found"] += found.get(entry.country, 0)
        counts["region_found"] += sum(found.values())
        return target

    def fba_due(covered: datetime | None) -> bool:
        return covered is None or covered <= target - FBA_CHUNK

    listed_once(store, f"{region.scope}:fba", fba_due, list_fba)
