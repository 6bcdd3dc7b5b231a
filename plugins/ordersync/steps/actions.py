"""The merchant's manual actions on named orders (the ordersync_actions DAG), each safe to run twice."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import AcceptFirstChannel, Channel
from ordersync.channels.parsing import as_invalid
from ordersync.errors import BadActionRequest, UnsupportedAction
from ordersync.shop.store import ShopStore
from ordersync.steps.accept import ACCEPT_COUNTS, accept
from ordersync.steps.fulfillment import fulfill
from ordersync.steps.imports import import_orders

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

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
        raise BadActionRequest(f"unknown action {action!r}; one of {', '.join(MANUAL_ACTIONS)}")
    if not ids:
        raise BadActionRequest("order_ids is empty: name the marketplace orders to act on")
    if shop_order_number and (action != "resync_mapping" or len(ids) != 1):
        raise BadActionRequest("shop_order_number goes with resync_mapping and exactly one order id")
    malformed = [i for i in ids if not re.fullmatch(channel.order_id_pattern, i)]
    if malformed:
        raise BadActionRequest(
            f"{entry.key}: not {entry.marketplace} order ids: {', '.join(malformed)} (expected {channel.order_id_pattern})"
        )
    counts: dict[str, Any] = {"action": action, "orders": len(ids)}
    if action == "cancel":
        counts["cancel_requested"] = _cancel(channel, entry, ids)
    elif action in ("accept", "refuse"):
        counts.update(_answer(channel, store, entry, ids, action))
    elif action == "resend_fulfillment":
        counts["reset"] = store.reset_rejected_shipments(entry.marketplace, entry.country, ids)
        counts.update(fulfill(channel, store, entry, order_ids=ids))
    else:
        counts.update(_import(channel, store, entry, ids, action, shop_order_number))
    return counts


def _cancel(channel: Channel, entry: Entry, ids: list[str]) -> int:
    """Lengow: the merchant cancels orders he cannot ship; once the marketplace acknowledges it
    the order comes back canceled and import cancels the shop order (stock back)."""
    if not isinstance(channel, AcceptFirstChannel):
        raise UnsupportedAction(f"{entry.key}: {entry.marketplace} has no cancel action")
    for order_id in ids:
        channel.cancel(order_id)  # sends nothing when a cancel is already queued
    return len(ids)


def _answer(channel: Channel, store: ShopStore, entry: Entry, ids: list[str], action: str) -> dict[str, Any]:
    """The merchant overrides the stock rule for these orders; one answer per order still holds."""
    if not isinstance(channel, AcceptFirstChannel):
        raise UnsupportedAction(f"{entry.key}: {entry.marketplace} orders need no acceptance")
    staged, missing = channel.fetch(ids)
    store.stage(entry.marketplace, entry.country, staged)
    result = accept(channel, store, entry, order_ids=ids, decision=action)
    not_waiting = len(ids) - len(missing) - sum(result[k] for k in ACCEPT_COUNTS)
    return {"fetched": len(staged), "missing": len(missing), "missing_ids": sorted(missing), **result,
            "not_waiting": not_waiting}


def _import(channel: Channel, store: ShopStore, entry: Entry, ids: list[str], action: str,
            shop_order_number: str | None) -> dict[str, Any]:
    """import / reimport / resync_mapping: read the named orders now, then import them."""
    mp, country = entry.marketplace, entry.country
    staged, missing = channel.fetch(ids)
    store.stage(mp, country, staged)
    counts: dict[str, Any] = {"fetched": len(staged), "missing": len(missing), "missing_ids": sorted(missing)}
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
                except Exception as exc:  # noqa: BLE001 - import sets it aside with the reason
                    log.warning("%s: order %s unreadable: %s", entry.key, row.order_id, as_invalid(exc))
        counts["refreshed"] = store.update_orders(mp, country, [o for o in refreshed if o.status.value != "CANCELLED"])
    counts.update(import_orders(channel, store, entry, order_ids=ids))
    return counts
