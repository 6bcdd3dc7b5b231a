"""The daily recovery: list the last days again and import only what is missing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import Channel
from ordersync.model import Fulfillment, Window
from ordersync.shop.store import ShopStore, utcnow
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


def recover(channel: Channel, store: ShopStore, entry: Entry, kind: str, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """List the window again (one request per page, no per-order call) and import what is missing.

    Orders already in the shop are only compared: a status that drifted (cancelled or shipped on
    the marketplace after import) is carried to the shop; nothing is created twice.
    """
    counts: dict[str, Any] = {"listed": 0, "already_present": 0, "recovered": 0, "status_updates": 0, "not_imported": 0, "pages": 0}
    effective = channel.clamp(window, now or utcnow())
    if effective is None:
        return counts
    ids: list[str] = []
    for page in channel.pages(effective, fulfilment=RECOVERY_KINDS[kind]):
        counts["pages"] += 1
        readable = [o for o in page if readable_id(o.order_id)]
        store.stage(entry.marketplace, entry.country, page)  # the unreadable ones are listed too
        ids += [o.order_id for o in readable]
    counts["listed"] = len(set(ids))
    counts["already_present"] = len(store.imported_ids(entry.marketplace, entry.country, ids))
    if ids:
        done = import_orders(channel, store, entry, order_ids=ids)
        counts["recovered"] = done["imported"]
        counts["status_updates"] = done["updated"] + done["cancelled"]
        counts["not_imported"] = done["not_imported"]
    log.info("%s %s counts: %s (window %s .. %s)", kind, entry.key, counts, effective.start, effective.end)
    return counts
