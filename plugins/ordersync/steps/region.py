"""Region-wide listings: one listing per seller account x region serves every country's lookup.

Amazon's ``searchOrders`` plan (0.0056/s, burst 20) is per seller account and region, and one
request takes every marketplace id of the region. Ten countries each listing their own window
every 30 minutes would spend twice the plan; one listing for all of them spends the same as one
country. The first lookup of an interval lists every country of the seller from the region's
watermark to its window end, stages each order under its own country and moves the watermark;
the others find their window covered and make no call (:mod:`ordersync.shop.listings`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordersync.marketplaces import amazon_marketplace
from ordersync.model import StagedOrder
from ordersync.shop.store import ShopStore

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

# A lister renews its lease after every page; a page may wait minutes on the usage plan's
# limiter (searchOrders refills one token in three minutes), so the lease is well above that.
LEASE = timedelta(minutes=15)
# How often a lookup waiting for another one's listing looks again
POLL_SECONDS = 1.0
# The countries' lookups of one interval start seconds apart, so their window ends (clamped to
# two minutes before now) differ a little: a listing that ends this close to a window's end
# covers it. Nothing is lost: the next listing starts from the watermark, less the overlap.
COVER_SLACK = timedelta(minutes=5)
# A watermark far behind (DAGs paused, a long outage) is caught up at most this far back; the
# daily recovery reads older days.
MAX_CATCH_UP = timedelta(days=2)


@dataclass(frozen=True)
class Region:
    """The Amazon entries one listing serves: a seller account (connection) in one API region,
    writing to one shop database."""

    scope: str  # "<conn_id>:<region>"
    countries: tuple[str, ...]  # every country of the seller in the region
    fba_countries: tuple[str, ...]  # those importing Amazon-fulfilled orders


def region_of(entry: Entry, entries: list[Entry]) -> Region | None:
    """The region listing ``entry`` shares with its siblings; None off Amazon."""
    if entry.marketplace != "amazon":
        return None
    region = amazon_marketplace(entry.country).region
    same = [e for e in entries if e.marketplace == "amazon" and e.conn_id == entry.conn_id
            and e.shop_conn_id == entry.shop_conn_id and amazon_marketplace(e.country).region == region]
    same = same if entry in same else [*same, entry]
    return Region(
        scope=f"{entry.conn_id}:{region}",
        countries=tuple(sorted({e.country for e in same})),
        fba_countries=tuple(sorted({e.country for e in same if e.import_fba})),
    )


def listed_once(
    store: ShopStore,
    scope: str,
    due: Callable[[datetime | None], bool],
    list_from: Callable[[datetime | None, Callable[[], bool]], datetime],
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = POLL_SECONDS,
) -> bool:
    """Make sure the listing of ``scope`` is done: list it ourselves, or wait for the lookup
    listing it now. True when this call made the listing.

    ``due(covered_until)`` says whether the watermark still needs a listing;
    ``list_from(covered_until, renew)`` lists, calling ``renew()`` after each page, and returns
    the end it covered. The watermark moves only when the listing completed; a failure releases
    the lock (pages already staged stay: staging is idempotent) and the task fails as before.
    """
    while True:
        turn = store.take_listing(scope, LEASE)
        if not due(turn.covered_until):
            if turn.token is not None:
                store.finish_listing(scope, turn.token, None)
            return False
        if turn.token is None:  # another lookup is listing: its listing may cover us
            sleep(poll)
            continue
        return _list_holding(store, scope, turn.token, turn.covered_until, list_from)


def _list_holding(store: ShopStore, scope: str, token: str, covered_until: datetime | None,
                  list_from: Callable[[datetime | None, Callable[[], bool]], datetime]) -> bool:
    """List while holding the lock; release it whatever happens, moving the watermark on success."""
    covered: datetime | None = None
    try:
        covered = list_from(covered_until, lambda: store.renew_listing(scope, token, LEASE))
    finally:
        store.finish_listing(scope, token, covered)
    return True


def stage_split(store: ShopStore, marketplace: str, pages: Any, counts: dict[str, Any], own: str,
                readable: Callable[[str], bool], seen: set[str] | None = None) -> dict[str, int]:
    """Stage each page of a region listing under each order's own country; returns the readable
    orders found per country and adds this entry's staging counts (``own``) to ``counts``
    (each of its orders once per lookup when ``seen`` is given: see :func:`stage_once`)."""
    found: dict[str, int] = {}
    for page in pages:
        counts["pages"] += 1
        for country, orders in sorted(page.items()):
            found[country] = found.get(country, 0) + len({o.order_id for o in orders if readable(o.order_id)})
            if country == own:
                stage_once(store, marketplace, country, orders, counts, readable, seen if seen is not None else set())
            else:
                store.stage(marketplace, country, orders)
    return found


def stage_once(store: ShopStore, marketplace: str, country: str, orders: list[StagedOrder], counts: dict[str, Any],
               readable: Callable[[str], bool], seen: set[str]) -> None:
    """Stage the orders ``seen`` does not hold yet and count them: an order several listings of one
    lookup return (window, FBA re-read, waiting, onboarding) counts once in ``new`` / ``changed`` /
    ``unchanged``, so that they add up to ``staged``. ``unreadable`` counts those without an id."""
    fresh = {o.order_id: o for o in orders if o.order_id not in seen}  # a repeat within a page once too
    if not fresh:
        return
    seen.update(fresh)
    staged = store.stage(marketplace, country, list(fresh.values()))
    counts["staged"] = counts.get("staged", 0) + len(fresh)
    counts["unreadable"] += sum(1 for oid in fresh if not readable(oid))
    counts["new"] += staged.new
    counts["changed"] += staged.changed
    counts["unchanged"] += staged.unchanged
