"""The sync steps as plain functions: lookup, accept, import, fulfill.

Each takes a channel adapter, the shop store and the config entry, does its work page by page and
returns a dict of counts (what the Airflow operators push as XCom). No Airflow import here: the
steps run the same from a test, a CLI or a task.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from ordersync import rules
from ordersync.channels.amazon import OPEN_STATUSES, InvalidOrder
from ordersync.hooks import MarketplaceRequestError
from ordersync.model import Rejection, Shipment, Window
from ordersync.shop.store import ShopStore, utcnow

log = logging.getLogger(__name__)

# How far back onboarding looks for orders still to ship. Amazon documents no limit on
# createdAfter for searchOrders; an order open for longer than this is not a real open order.
ONBOARDING_LOOKBACK = timedelta(days=180)


def run_window(
    entry: Any,
    interval_start: datetime,
    interval_end: datetime,
    lookback_hours: float | None = None,
) -> Window:
    """The window a run reads: its data interval widened back by the entry's overlap.

    The overlap catches orders whose update landed just before the previous run's end was read;
    a manual run can instead look back ``lookback_hours`` from the interval's end.
    """
    if lookback_hours:
        return Window(interval_end - timedelta(hours=float(lookback_hours)), interval_end)
    return Window(interval_start - timedelta(minutes=entry.overlap_minutes), interval_end)


def lookup(channel: Any, store: ShopStore, entry: Any, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """List the orders updated in the window and stage every one of them in the inbox.

    Two more listings when they apply: Amazon-fulfilled orders over the window shifted
    ``fba_extra_days`` back (they show up late), and on the entry's very first lookup
    (``onboarding: unshipped``) every order still to ship, whatever its age.
    """
    counts = {"found": 0, "new": 0, "changed": 0, "unchanged": 0, "pages": 0, "unreadable": 0,
              "fba_found": 0, "onboarded": 0}
    now = now or utcnow()
    first_run = getattr(entry, "onboarding", "none") == "unshipped" and not store.has_lookup(entry.key)
    effective = channel.clamp(window, now)
    if effective is None and not first_run:
        log.info("window %s..%s is too recent for %s; nothing to read yet", window.start, window.end, entry.key)
        return counts

    def stage_all(pages) -> int:
        found = 0
        for page in pages:
            counts["pages"] += 1
            readable = [o for o in page if o.order_id]
            counts["unreadable"] += len(page) - len(readable)
            staged = store.stage(entry.marketplace, entry.country, readable)
            found += len(readable)
            counts["new"] += staged.new
            counts["changed"] += staged.changed
            counts["unchanged"] += staged.unchanged
        return found

    if effective is not None:
        counts["found"] += stage_all(channel.pages(effective))
        extra = timedelta(days=getattr(entry, "fba_extra_days", 0))
        if extra:
            # The same window again, shifted back: every moment is read once more, `extra` later,
            # catching FBA orders that surface late. Re-reading the whole widened span each run
            # would cost days of pages per run against searchOrders' 0.0056/s regional plan.
            fba = Window(effective.start - extra, effective.end - extra)
            counts["fba_found"] = stage_all(channel.pages(fba, fulfilled_by="AMAZON"))
    if first_run:
        # Open orders of any age, created up to now: Amazon clamps the open end itself.
        since = Window(now - ONBOARDING_LOOKBACK, now - ONBOARDING_LOOKBACK)
        counts["onboarded"] = stage_all(
            channel.pages(since, by="created", statuses=OPEN_STATUSES, open_ended=True)
        )
    log.info("lookup %s counts: %s (window %s)", entry.key, counts,
             f"{effective.start} .. {effective.end}" if effective else "too recent")
    return counts


def accept(channel: Any, store: ShopStore, entry: Any) -> dict[str, Any]:
    """Answer orders waiting for acceptance; Amazon has none, so it reports zero."""
    return {"accepted": 0, "refused": 0}


def import_orders(channel: Any, store: ShopStore, entry: Any) -> dict[str, Any]:
    """Turn staged orders into shop orders; a bad order is set aside, the rest of the page goes in."""
    counts = {"imported": 0, "already_imported": 0, "not_imported": 0, "waiting": 0, "skipped": 0, "stock_moves": 0}
    for batch in store.inbox_to_import(entry.marketplace, entry.country, entry.page_size):
        parsed, rejected = [], []
        for row in batch:
            try:
                parsed.append(channel.parse(row.payload))
            except InvalidOrder as exc:
                rejected.append(Rejection(row.order_id, "invalid_payload", f"the marketplace sent an order we cannot read: {exc}"))
        skus = {line.sku for order in parsed for line in order.lines if line.sku}
        decisions = rules.decide(parsed, store.products_by_sku(skus), entry)
        rejected += decisions.rejected
        written = store.write_orders(entry.marketplace, entry.country, decisions.plans)
        store.record_rejections(entry.marketplace, entry.country, rejected)
        for state, items in (("waiting", decisions.waiting), ("skipped", decisions.skipped)):
            by_reason: dict[str, list[str]] = {}
            for order_id, why in items:
                by_reason.setdefault(why, []).append(order_id)
            for why, order_ids in by_reason.items():  # one statement per reason, not per order
                store.set_inbox_state(entry.marketplace, entry.country, order_ids, state, why)
        counts["imported"] += len(written.imported)
        counts["already_imported"] += len(written.already)
        counts["stock_moves"] += written.stock_moves
        counts["not_imported"] += len(rejected)
        counts["waiting"] += len(decisions.waiting)
        counts["skipped"] += len(decisions.skipped)
        for r in rejected:
            # order id and reason only: never the buyer's data
            log.warning("not imported %s %s: %s", r.order_id, r.reason, r.message)
    log.info("import %s counts: %s", entry.key, counts)
    return counts


def carrier_for(entry: Any, shop_carrier: str | None) -> tuple[str, str | None]:
    """Marketplace carrier code (and name when the code is the catch-all) for a shop carrier."""
    if shop_carrier and shop_carrier in entry.carrier_map:
        return entry.carrier_map[shop_carrier], None
    return entry.default_carrier, (shop_carrier or "Other")


def fulfill(channel: Any, store: ShopStore, entry: Any, lease: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
    """Confirm shipped shop orders to the marketplace, each package exactly once.

    A package is claimed in the shop database before it is sent; an attempt whose outcome is
    unknown (the task died, the marketplace kept failing) is checked on the marketplace before
    anything is sent again.
    """
    counts = {"confirmed": 0, "rejected": 0, "already_confirmed": 0, "unsent": 0}
    for item in store.shipments_to_confirm(entry.marketplace, entry.country, entry.shipped_status, lease):
        code, name = carrier_for(entry, item.carrier)
        token = store.claim_shipment(item, code, name)
        if token is None:
            continue  # another run holds it
        if item.in_doubt and channel.package_confirmed(item.order_id, item.package_ref):
            store.finish_shipment(item, token, "confirmed", "found on the marketplace after an interrupted attempt")
            counts["already_confirmed"] += 1
            continue
        shipment = Shipment(
            order_id=item.order_id,
            package_ref=item.package_ref,
            carrier=code,
            tracking_number=item.tracking_number,
            ship_date=item.shipped_at or utcnow(),
            items=item.lines,
            shipping_method=item.shipping_method,
        )
        try:
            channel.confirm_shipment(shipment, code, name)
        except MarketplaceRequestError as exc:
            store.finish_shipment(item, token, "rejected", exc.message)
            counts["rejected"] += 1
            log.warning("shipment of %s rejected: %s", item.order_id, exc)
            continue
        except Exception:
            store.finish_shipment(item, token, "sending")  # unknown outcome: next run verifies
            counts["unsent"] += 1
            raise
        store.finish_shipment(item, token, "confirmed")
        counts["confirmed"] += 1
    log.info("fulfillment %s counts: %s", entry.key, counts)
    return counts
