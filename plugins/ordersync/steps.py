"""The sync steps as plain functions: lookup, accept, import, fulfill, recover (recheck, doublecheck).

Each takes a channel adapter, the shop store and the config entry, does its work page by page and
returns a dict of counts (what the Airflow operators push as XCom). No Airflow import here: the
steps run the same from a test, a CLI or a task.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from typing import TYPE_CHECKING

from ordersync import rules
from ordersync.channels.contract import AcceptFirstChannel, Channel
from ordersync.channels.parsing import InvalidOrder
from ordersync.errors import MarketplaceRequestError, UnsupportedAction
from ordersync.model import Fulfillment, MarketplaceOrder, Rejection, Shipment, Window
from ordersync.shop.store import ShopStore, utcnow

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
    accept_first = isinstance(channel, AcceptFirstChannel)
    if accept_first:
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
        extra = timedelta(days=entry.fba_extra_days)
        if extra:
            # The same window again, shifted back: every moment is read once more, `extra` later,
            # catching FBA orders that surface late. Re-reading the whole widened span each run
            # would cost days of pages per run against searchOrders' 0.0056/s regional plan.
            fba = Window(effective.start - extra, effective.end - extra)
            counts["fba_found"] = stage_all(channel.pages(fba, fulfilment=Fulfillment.MARKETPLACE))
    if accept_first:
        # accept-first channels: every order still waiting for an answer, whatever its dates
        counts["waiting_listed"] = stage_all(channel.waiting_pages())
    if first_run:
        # Open orders of any age, created up to now
        counts["onboarded"] = stage_all(channel.open_pages(now - ONBOARDING_LOOKBACK))
    log.info("lookup %s counts: %s (window %s)", entry.key, counts,
             f"{effective.start} .. {effective.end}" if effective else "too recent")
    return counts


ACCEPT_COUNTS = ("accepted", "refused", "already_answered", "failed", "not_acknowledged", "unreadable")


def accept(
    channel: AcceptFirstChannel | None,
    store: ShopStore,
    entry: Entry,
    order_ids: list[str] | None = None,
    decision: str | None = None,
    lease: timedelta = timedelta(minutes=10),
) -> dict[str, Any]:
    """Accept or refuse the staged orders waiting for acceptance, each answered once.

    Decided from the inbox (what lookup just staged) and the shop's stock by
    :func:`rules.acceptance`, or forced by ``decision`` (manual ``accept`` / ``refuse`` of
    ``order_ids``). The answer is claimed in ``acceptances`` before it is sent, so a retried task
    never sends a second one; an attempt left in doubt is checked on the marketplace first.
    Acceptance creates no customer and moves no stock: import does once the order is importable.
    Amazon has nothing to accept and reports zero.
    """
    from ordersync.shop import acceptances

    if channel is None:
        return {"accepted": 0, "refused": 0}  # Amazon: the XCom it always had
    statuses = channel.waiting_statuses
    counts = dict.fromkeys(ACCEPT_COUNTS, 0)
    mp, country = entry.marketplace, entry.country
    rows = acceptances.waiting_rows(store, mp, country, statuses, order_ids)
    orders = []
    for row in rows:
        try:
            orders.append(channel.parse(row.payload))
        except InvalidOrder as exc:
            # refused blind would be wrong; import sets it aside with the reason (invalid_payload)
            counts["unreadable"] += 1
            log.warning("%s: order %s waiting for acceptance is unreadable: %s", entry.key, row.order_id, exc)
    known = acceptances.answers(store, mp, country, [o.order_id for o in orders])
    catalog = _catalog(store, entry, orders)
    committed: dict[int, int] = {}  # stock this run already promised, so two orders never share a unit
    for order in orders:
        previous = known.get(order.order_id)
        if previous is not None and previous["state"] == "sent":
            # still waiting although we answered (Lengow): the marketplace may never have taken it
            message = channel.answer_failed(order.order_id)
            if message:
                acceptances.mark_rejected(store, mp, country, order.order_id, message)
                previous = {**previous, "state": "rejected"}
                counts["not_acknowledged"] += 1
                log.warning("%s: answer to %s not acknowledged: %s", entry.key, order.order_id, message)
        if previous is not None and previous["state"] == "rejected" and decision:
            acceptances.forget_rejected(store, mp, country, order.order_id)  # the merchant answers again
        elif previous is not None and previous["state"] != "sending":
            counts["already_answered"] += 1
            continue
        choice, why = (decision, "manual action") if decision else rules.acceptance(order, catalog, entry, committed)
        claim = acceptances.claim(store, mp, country, order.order_id, choice, why, lease)
        if claim is None:
            counts["already_answered"] += 1
            continue
        if claim.in_doubt and channel.answered(order.order_id):
            acceptances.finish(store, mp, country, order.order_id, claim.token, "sent", "found on the marketplace after an interrupted attempt")
            counts["already_answered"] += 1
            continue
        try:
            channel.answer(order, choice)
        except MarketplaceRequestError as exc:
            # a retried request whose first attempt got through is refused as "already answered"
            if channel.answered(order.order_id):
                acceptances.finish(store, mp, country, order.order_id, claim.token, "sent", f"answered on the marketplace ({exc.message})")
                counts["accepted" if choice == "accept" else "refused"] += 1
                continue
            acceptances.finish(store, mp, country, order.order_id, claim.token, "rejected", exc.message)
            counts["failed"] += 1
            log.warning("%s: %s of %s refused by the marketplace: %s", entry.key, choice, order.order_id, exc)
            continue
        except Exception:
            acceptances.finish(store, mp, country, order.order_id, claim.token, "sending")
            raise
        acceptances.finish(store, mp, country, order.order_id, claim.token, "sent")
        counts["accepted" if choice == "accept" else "refused"] += 1
        log.info("%s: %sed %s (%s)", entry.key, choice.rstrip("e"), order.order_id, why)
    log.info("accept %s counts: %s", entry.key, counts)
    return counts


def waiting_for_acceptance(channel: AcceptFirstChannel, store: ShopStore, entry: Entry, limit: int = 50) -> list[dict[str, Any]]:
    """Orders waiting for acceptance and not answered yet, with their lines and the shop stock.

    For the lookup task's XCom and log, so the merchant sees what accept will decide: order ids,
    SKUs, quantities and stock only, never buyer data.
    """
    from ordersync.shop import acceptances

    statuses = channel.waiting_statuses
    mp, country = entry.marketplace, entry.country
    orders = []
    for row in acceptances.waiting_rows(store, mp, country, statuses):
        try:
            orders.append(channel.parse(row.payload))
        except InvalidOrder:
            continue
    known = acceptances.answers(store, mp, country, [o.order_id for o in orders])
    orders = [o for o in orders if o.order_id not in known][:limit]
    catalog = _catalog(store, entry, orders)
    out = []
    for order in orders:
        lines = []
        for line in order.lines:
            product = catalog.match(line.sku, line.asin, entry.prioritise_asin)
            lines.append({"sku": line.sku, "quantity": line.quantity, "stock": None if product is None else product.get("stock", 0)})
        out.append({"order_id": order.order_id, "lines": lines})
    return out


def import_orders(channel: Channel, store: ShopStore, entry: Entry, order_ids: list[str] | None = None) -> dict[str, Any]:
    """Turn staged orders into shop orders; a bad order is set aside, the rest of the page goes in.

    Also holds stock for pending orders, gives it back when they are cancelled or expire, and
    carries cancellations and status changes of already imported orders to the shop.
    ``order_ids`` limits the work to those orders (manual actions).
    """
    counts = dict.fromkeys(IMPORT_COUNTS, 0)
    mp, country = entry.marketplace, entry.country
    for batch in store.inbox_to_import(mp, country, entry.page_size, order_ids):
        parsed, rejected = [], []
        for row in batch:
            try:
                parsed.append(channel.parse(row.payload))
            except InvalidOrder as exc:
                rejected.append(Rejection(row.order_id, "invalid_payload", f"the marketplace sent an order we cannot read: {exc}"))
        decisions = rules.decide(
            parsed,
            _catalog(store, entry, parsed),
            entry,
            imported=store.imported_ids(mp, country, [o.order_id for o in parsed]),
        )
        rejected += decisions.rejected
        written = store.write_orders(mp, country, decisions.plans)
        counts["reserved"] += store.reserve(mp, country, decisions.reservations)
        for why, ids in _group(decisions.releases).items():
            counts["released"] += store.release(mp, country, ids, why)
        cancelled = store.cancel_orders(mp, country, decisions.cancels, entry.cancelled_status)
        counts["updated"] += store.update_orders(mp, country, decisions.updates)
        store.record_rejections(mp, country, rejected)
        for state, items in (("waiting", decisions.waiting), ("skipped", decisions.skipped), ("recorded", decisions.recorded)):
            for why, ids in _group(items).items():  # one statement per reason, not per order
                store.set_inbox_state(mp, country, ids, state, why)
        counts["imported"] += len(written.imported)
        counts["already_imported"] += len(written.already)
        counts["stock_moves"] += written.stock_moves + cancelled.stock_moves
        counts["released"] += written.converted
        counts["cancelled"] += len(cancelled.cancelled)
        counts["flagged"] += sum(1 for p in decisions.plans if p.flags and p.order.order_id in written.imported)
        counts["not_imported"] += len(rejected)
        counts["waiting"] += len(decisions.waiting)
        counts["skipped"] += len(decisions.skipped)
        counts["recorded"] += len(decisions.recorded)
        for r in rejected:
            # order id and reason only: never the buyer's data
            log.warning("not imported %s %s: %s", r.order_id, r.reason, r.message)
    if order_ids is None:  # a pending order never confirmed gives its quantity back
        counts["released"] += store.release_expired(mp, country, entry.reservation_expiry)
    log.info("import %s counts: %s", entry.key, counts)
    return counts


IMPORT_COUNTS = (
    "imported", "already_imported", "not_imported", "waiting", "skipped", "recorded", "stock_moves",
    "reserved", "released", "cancelled", "updated", "flagged",
)


def _catalog(store: ShopStore, entry: Entry, orders: list[MarketplaceOrder]) -> rules.Catalog:
    """The shop products this page can match, by the entry's SKU source and, if asked, by ASIN."""
    lines = [line for order in orders for line in order.lines]
    asin_first = entry.prioritise_asin or (entry.import_fba and entry.fba_asin_first)
    placeholder = None
    if entry.import_fba and entry.fba_placeholder and any(o.is_fba for o in orders):
        placeholder = store.fba_placeholder()
    return rules.Catalog(
        by_key=store.products_by(entry.sku_source, (line.sku for line in lines)),
        by_asin=store.products_by("asin", (line.asin for line in lines)) if asin_first else {},
        placeholder=placeholder,
    )


def _group(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """(order id, why) pairs grouped by why."""
    out: dict[str, list[str]] = {}
    for order_id, why in items:
        out.setdefault(why, []).append(order_id)
    return out


def carrier_for(entry: Entry, shop_carrier: str | None) -> tuple[str, str | None]:
    """Marketplace carrier code (and name when the code is the catch-all) for a shop carrier."""
    if shop_carrier and shop_carrier in entry.carrier_map:
        code = entry.carrier_map[shop_carrier]
        # Amazon refuses the catch-all code without a carrier name, even when mapped to it on purpose
        return code, (shop_carrier if code == "Other" else None)
    return entry.default_carrier, (shop_carrier or "Other")


def fulfill(
    channel: Channel,
    store: ShopStore,
    entry: Entry,
    lease: timedelta = timedelta(minutes=10),
    order_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Confirm shipped shop orders to the marketplace, each package exactly once.

    A package is claimed in the shop database before it is sent; an attempt whose outcome is
    unknown (the task died, the marketplace kept failing) is checked on the marketplace before
    anything is sent again.
    """
    counts = {"confirmed": 0, "rejected": 0, "already_confirmed": 0, "unsent": 0}
    for item in store.shipments_to_confirm(entry.marketplace, entry.country, entry.shipped_status, lease):
        if order_ids is not None and item.order_id not in order_ids:
            continue  # a manual resend touches only the orders it names
        code, name = carrier_for(entry, item.carrier)
        token = store.claim_shipment(item, code, name)
        if token is None:
            continue  # another run holds it
        shipment = Shipment(
            order_id=item.order_id,
            package_ref=item.package_ref,
            carrier=code,
            tracking_number=item.tracking_number,
            ship_date=item.shipped_at or utcnow(),
            items=item.lines,
            shipping_method=item.shipping_method,
        )
        if item.in_doubt and channel.package_confirmed(shipment):
            store.finish_shipment(item, token, "confirmed", "found on the marketplace after an interrupted attempt")
            counts["already_confirmed"] += 1
            continue
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


def check_acknowledgements(channel: AcceptFirstChannel, store: ShopStore, entry: Entry) -> dict[str, int]:
    """Settle shipments sent earlier (Lengow forwards them; Octopia takes them at once). The marketplace acknowledges them after a delay;
    one it never acknowledged becomes ``rejected`` (shown in ``v_not_shipped``) so the merchant
    sees the order as not shipped and can resend it."""
    from ordersync.shop import shipments

    counts = {"acknowledged": 0, "not_acknowledged": 0}
    pending = shipments.unacknowledged_shipments(store, entry.marketplace, entry.country)
    if not pending:
        return counts
    done, failed = channel.acknowledgements(sorted(pending))
    shipments.settle_shipments(store, [pending[i] for i in done], {pending[i]: m for i, m in failed.items()})
    for order_id, message in sorted(failed.items()):
        log.warning("%s: shipment of %s not acknowledged by the marketplace: %s", entry.key, order_id, message)
    counts["acknowledged"], counts["not_acknowledged"] = len(done), len(failed)
    return counts


MANUAL_ACTIONS = ("import", "reimport", "resend_fulfillment", "resync_mapping", "accept", "refuse", "cancel")


def manual_action(
    channel: Channel,
    store: ShopStore,
    entry: Entry,
    action: str,
    order_ids: list[str],
    shop_order_number: str | None = None,
) -> dict[str, Any]:
    """The merchant's manual actions on named orders, each safe to run twice.

    - ``import``: read the orders from the marketplace now and import them (a window missed them);
    - ``reimport``: the same, after fixing a product, also for orders skipped or set aside before;
    - ``resend_fulfillment``: send again confirmations the marketplace refused (never a confirmed one);
    - ``resync_mapping``: re-read the orders and map each to its shop order (and shop order number);
    - ``accept`` / ``refuse``: answer orders waiting for acceptance (Cdiscount, Lengow), whatever the stock;
    - ``cancel``: Lengow only, queue a cancel action (once) for orders the merchant cannot ship.
    """
    ids = sorted({str(i).strip() for i in order_ids or [] if str(i).strip()})
    if action not in MANUAL_ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(MANUAL_ACTIONS)}")
    if not ids:
        raise ValueError("order_ids is empty: name the marketplace orders to act on")
    if shop_order_number and (action != "resync_mapping" or len(ids) != 1):
        raise ValueError("shop_order_number goes with resync_mapping and exactly one order id")
    counts: dict[str, Any] = {"action": action, "orders": len(ids)}
    mp, country = entry.marketplace, entry.country
    if action == "cancel":
        # Lengow: the merchant cancels orders he cannot ship; once the marketplace acknowledges
        # it the order comes back canceled and import cancels the shop order (stock back)
        if not isinstance(channel, AcceptFirstChannel):
            raise UnsupportedAction(f"{entry.key}: {entry.marketplace} has no cancel action")
        for order_id in ids:
            channel.cancel(order_id)  # sends nothing when a cancel is already queued
        counts["cancel_requested"] = len(ids)
        return counts
    if action in ("accept", "refuse"):
        if not isinstance(channel, AcceptFirstChannel):
            raise UnsupportedAction(f"{entry.key}: {entry.marketplace} orders need no acceptance")
        # the merchant overrides the stock rule for these orders; one answer per order still holds
        staged, missing = channel.fetch(ids)
        store.stage(mp, country, staged)
        counts["fetched"], counts["missing"] = len(staged), len(missing)
        result = accept(channel, store, entry, order_ids=ids, decision=action)
        counts.update(result)
        counts["not_waiting"] = len(ids) - len(missing) - sum(result[k] for k in ACCEPT_COUNTS)
        return counts
    if action == "resend_fulfillment":
        counts["reset"] = store.reset_rejected_shipments(mp, country, ids)
        counts.update(fulfill(channel, store, entry, order_ids=ids))
        return counts
    staged, missing = channel.fetch(ids)
    store.stage(mp, country, staged)
    counts["fetched"], counts["missing"] = len(staged), len(missing)
    for order_id in missing:
        log.warning("%s: order %s not found on the marketplace", entry.key, order_id)
    if action == "reimport":
        counts["reset"] = store.reset_inbox(mp, country, ids)
    if action == "resync_mapping":
        present = store.imported_ids(mp, country, ids)
        counts["mapped"] = len(present)
        counts["not_in_shop"] = len(set(ids) - present - set(missing))
        if shop_order_number and present:
            store.set_shop_order_number(mp, country, ids[0], shop_order_number)
        refreshed = []
        for row in staged:
            if row.order_id in present:
                try:
                    refreshed.append(channel.parse(row.payload))
                except InvalidOrder as exc:
                    log.warning("%s: order %s unreadable: %s", entry.key, row.order_id, exc)
        counts["refreshed"] = store.update_orders(mp, country, [o for o in refreshed if o.status.value != "CANCELLED"])
    counts.update(import_orders(channel, store, entry, order_ids=ids))
    return counts


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
        readable = [o for o in page if o.order_id]
        store.stage(entry.marketplace, entry.country, readable)
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
