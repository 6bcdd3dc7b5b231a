"""import: turn staged orders into shop orders, page by page; a bad order is set aside."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ordersync import rules, validation
from ordersync.channels.contract import Channel
from ordersync.channels.parsing import UNREADABLE_PREFIX, as_invalid
from ordersync.model import InboxRow, MarketplaceOrder, Rejection
from ordersync.shop.store import ShopStore, utcnow
from ordersync.steps.collector import older_objects_frozen

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)


@older_objects_frozen()
def import_orders(channel: Channel, store: ShopStore, entry: Entry, order_ids: list[str] | None = None) -> dict[str, Any]:
    """Turn staged orders into shop orders; a bad order is set aside, the rest of the page goes in.

    Also holds stock for pending orders, gives it back when they are cancelled or expire, and
    carries cancellations and status changes of already imported orders to the shop.
    ``order_ids`` limits the work to those orders (manual actions).
    """
    counts = dict.fromkeys(IMPORT_COUNTS, 0)
    mp, country = entry.marketplace, entry.country
    for batch in store.inbox_to_import(mp, country, entry.import_batch, order_ids):
        parsed, rejected, flags = _read(channel, batch)
        decisions = rules.decide(
            parsed,
            catalog_for(store, entry, parsed),
            entry,
            imported=store.imported_ids(mp, country, [o.order_id for o in parsed]),
        )
        rejected += decisions.rejected
        plans = [replace(p, flags=p.flags + flags[p.order.order_id]) if flags.get(p.order.order_id) else p
                 for p in decisions.plans]
        written = store.write_orders(mp, country, plans)
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
        counts["flagged"] += sum(1 for p in plans if p.flags and p.order.order_id in written.imported)
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


def catalog_for(store: ShopStore, entry: Entry, orders: list[MarketplaceOrder]) -> rules.Catalog:
    """The shop products this page can match, by the entry's SKU source and, if asked, by ASIN."""
    lines = [line for order in orders for line in order.lines]
    asin_first = entry.prioritise_asin or (entry.import_fba and entry.fba_asin_first)
    placeholder = None
    if entry.import_fba and entry.fba_placeholder and any(o.is_fba for o in orders):
        placeholder = store.fba_placeholder()
    return rules.Catalog(
        by_key=store.products_by(entry.sku_source, (line.sku for line in lines if line.sku)),
        by_asin=store.products_by("asin", (line.asin for line in lines if line.asin)) if asin_first else {},
        placeholder=placeholder,
    )


def _read(channel: Channel, batch: list[InboxRow]) -> tuple[list[MarketplaceOrder], list[Rejection], dict[str, tuple[str, ...]]]:
    """Parse and check one batch: the orders to decide on, the ones set aside (with a reason naming
    the field, never the value) and the flags of orders whose free text was cut to the schema."""
    parsed, rejected, flags = [], [], {}
    now = utcnow()
    for row in batch:
        if row.order_id.startswith(UNREADABLE_PREFIX):
            rejected.append(Rejection(row.order_id, "unreadable", "the marketplace sent an order without a readable id"))
            continue
        try:
            order = channel.parse(row.payload)
        except Exception as exc:  # noqa: BLE001 - one unreadable order never stops the page
            rejected.append(Rejection(row.order_id, "invalid_payload", f"the marketplace sent an order we cannot read: {as_invalid(exc)}"))
            continue
        if order.order_id != row.order_id:
            rejected.append(Rejection(row.order_id, "invalid_payload", "order id: differs from the staged one"))
            continue
        checked = validation.check_order(order, now)
        if isinstance(checked, Rejection):
            rejected.append(checked)
            continue
        parsed.append(checked[0])
        if checked[1]:
            flags[order.order_id] = checked[1]
    return parsed, rejected, flags


def _group(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """(order id, why) pairs grouped by why."""
    out: dict[str, list[str]] = {}
    for order_id, why in items:
        out.setdefault(why, []).append(order_id)
    return out
