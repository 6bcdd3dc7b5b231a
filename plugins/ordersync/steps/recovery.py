"""The daily recovery: list the last days again and import only what is missing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import Channel, RegionChannel
from ordersync.model import Fulfillment, Window
from ordersync.shop.store import ShopStore, utcnow
from ordersync.steps.collector import older_objects_frozen
from ordersync.steps.region import Region, listed_once, stage_split
from ordersync.validation import readable_id
from ordersync.steps.imports import import_orders

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

RECOVERY_KINDS = {
    # marketplace-fulfilled (FBA) orders: already shipped when they surface, sometimes days late
    "recheck": Fulfillment.MARKETPLACE,
    # merchant-fulfilled orders: the ones a window missed (listed late, updated at its edge)
    "doublecheck": Fulfillment.MERCHANT,
}


def recovery_window(entry: Entry, kind: str, end: datetime) -> Window:
    """The widened window of a recovery: ``recovery_days`` back, plus ``fba_extra_days`` for recheck."""
    days = entry.recovery_days + (entry.fba_extra_days if kind == "recheck" else 0)
    return Window(end - timedelta(days=days), end)


@older_objects_frozen()
def recover(
    channel: Channel,
    store: ShopStore,
    entry: Entry,
    kind: str,
    window: Window,
    now: datetime | None = None,
    region: Region | None = None,
) -> dict[str, Any]:
    """List the window again (one request per page, no per-order call) and import what is missing.

    Orders already in the shop are only compared: a status that drifted (cancelled or shipped on
    the marketplace after import) is carried to the shop; nothing is created twice. With
    ``region`` (Amazon) the first task of the seller x region lists every country at once.
    """
    counts: dict[str, Any] = {"listed": 0, "already_present": 0, "recovered": 0, "status_updates": 0, "not_imported": 0, "pages": 0}
    effective = channel.clamp(window, now or utcnow())
    if effective is None:
        return counts
    if region is not None and isinstance(channel, RegionChannel):
        # one listing per recovery window, named by its unclamped end: every task of the run agrees
        scope = f"{region.scope}:{kind}@{window.end:%Y%m%dT%H%M%S}"
        return _recover_region(channel, store, entry, kind, effective, region, scope, counts)
    ids: list[str] = []
    for page in channel.pages(effective, fulfilment=RECOVERY_KINDS[kind]):
        counts["pages"] += 1
        readable = [o for o in page if readable_id(o.order_id)]
        store.stage(entry.marketplace, entry.country, page)  # the unreadable ones are listed too
        ids += [o.order_id for o in readable]
    return _import_listed(channel, store, entry, kind, effective, ids, counts)


def _import_listed(channel: Channel, store: ShopStore, entry: Entry, kind: str, effective: Window,
                   ids: list[str], counts: dict[str, Any]) -> dict[str, Any]:
    """Import the listed orders, only what is missing or drifted."""
    counts["listed"] = len(set(ids))
    counts["already_present"] = len(store.imported_ids(entry.marketplace, entry.country, ids))
    if ids:
        done = import_orders(channel, store, entry, order_ids=ids)
        counts["recovered"] = done["imported"]
        counts["status_updates"] = done["updated"] + done["cancelled"]
        counts["not_imported"] = done["not_imported"]
    log.info("%s %s counts: %s (window %s .. %s)", kind, entry.key, counts, effective.start, effective.end)
    return counts


def _recover_region(channel: RegionChannel, store: ShopStore, entry: Entry, kind: str, effective: Window,
                    region: Region, scope: str, counts: dict[str, Any]) -> dict[str, Any]:
    """One listing per seller x region and recovery day: the first task lists every country
    (doublecheck: orders still pending or to ship, the ones that can be missing or change;
    recheck: FBA orders of the countries importing them), stages them under their countries and
    imports its own; the other countries' tasks import what that listing staged for them."""
    countries = region.fba_countries if kind == "recheck" else region.countries
    ids: list[str] = []

    def list_window(_covered: datetime | None, renew) -> datetime:
        pages = channel.region_pages(effective, countries, fulfilment=RECOVERY_KINDS[kind],
                                     unsettled_only=kind == "doublecheck")
        staged = {"pages": 0, "unreadable": 0, "new": 0, "changed": 0, "unchanged": 0}
        for page in pages:
            ids.extend(o.order_id for o in page.get(entry.country, []) if readable_id(o.order_id))
            stage_split(store, entry.marketplace, [page], staged, entry.country, readable_id)
            renew()
        counts["pages"] += staged["pages"]
        return effective.end

    # a backfilled recovery of another day has a scope of its own: it lists its own window
    if listed_once(store, scope, lambda covered: covered is None, list_window):
        return _import_listed(channel, store, entry, kind, effective, ids, counts)
    # another country's task listed it: this country's orders of that listing, from the inbox
    counts["covered"] = 1
    statuses = channel.unsettled_statuses if kind == "doublecheck" else ()
    ids = store.staged_in(entry.marketplace, entry.country, effective.start, effective.end,
                          RECOVERY_KINDS[kind].value, statuses)
    return _import_listed(channel, store, entry, kind, effective, ids, counts)
