"""accept: answer the orders waiting for acceptance (accept-first channels), each once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ordersync import rules, validation
from ordersync.channels.contract import AcceptFirstChannel
from ordersync.channels.parsing import as_invalid
from ordersync.errors import MarketplaceRequestError
from ordersync.model import MarketplaceOrder, Rejection
from ordersync.shop.store import ShopStore
from ordersync.steps.imports import catalog_for

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

ACCEPT_COUNTS = ("accepted", "refused", "already_answered", "failed", "not_acknowledged", "unreadable", "invalid")


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
    counts = dict.fromkeys(ACCEPT_COUNTS, 0)
    mp, country = entry.marketplace, entry.country
    orders = _readable_orders(channel, store, entry, order_ids, decision, counts)
    known = acceptances.answers(store, mp, country, [o.order_id for o in orders])
    catalog = catalog_for(store, entry, orders)
    committed: dict[int, int] = {}  # stock this run already promised, so two orders never share a unit
    for order in orders:
        if not _needs_answer(channel, store, entry, order.order_id, known.get(order.order_id), decision, counts):
            continue
        choice, why = (decision, "manual action") if decision else rules.acceptance(order, catalog, entry, committed)
        claim = acceptances.claim(store, mp, country, order.order_id, choice, why, lease)
        if claim is None:
            counts["already_answered"] += 1
            continue
        outcome = _answer_once(channel, store, entry, order, choice, claim)
        counts[outcome] += 1
        if outcome in ("accepted", "refused"):
            log.info("%s: %s %s (%s)", entry.key, outcome, order.order_id, why)
    log.info("accept %s counts: %s", entry.key, counts)
    return counts


def _readable_orders(channel: AcceptFirstChannel, store: ShopStore, entry: Entry, order_ids: list[str] | None,
                     decision: str | None, counts: dict[str, int]) -> list[MarketplaceOrder]:
    """The waiting orders the rule can decide on. An unreadable one, or one whose values import would
    refuse (negative price, huge quantity...), is not answered by the rule: refused blind would be
    wrong, accepted would promise an order the shop cannot record. Import sets it aside with its
    reason; the merchant answers it by hand (``decision``) if it must be."""
    from ordersync.shop import acceptances

    now = datetime.now(timezone.utc)
    orders = []
    for row in acceptances.waiting_rows(store, entry.marketplace, entry.country, channel.waiting_statuses, order_ids):
        try:
            order = channel.parse(row.payload)
        except Exception as exc:  # noqa: BLE001 - one unreadable order never stops the others' answers
            counts["unreadable"] += 1
            log.warning("%s: order %s waiting for acceptance is unreadable: %s", entry.key, row.order_id, as_invalid(exc))
            continue
        checked = validation.check_order(order, now)
        if isinstance(checked, Rejection):
            if decision is None:
                counts["invalid"] += 1
                log.warning("%s: order %s waiting for acceptance is left unanswered: %s", entry.key, row.order_id,
                            checked.message)
                continue
            orders.append(order)  # the merchant's own answer goes through
        else:
            orders.append(checked[0])
    return orders


def _needs_answer(channel: AcceptFirstChannel, store: ShopStore, entry: Entry, order_id: str,
                  previous: dict[str, Any] | None, decision: str | None, counts: dict[str, int]) -> bool:
    """Whether the order still needs our answer, given the one recorded before (if any)."""
    from ordersync.shop import acceptances

    mp, country = entry.marketplace, entry.country
    if previous is not None and previous["state"] == "sent":
        # still waiting although we answered (Lengow): the marketplace may never have taken it
        message = channel.answer_failed(order_id)
        if message:
            acceptances.mark_rejected(store, mp, country, order_id, message)
            previous = {**previous, "state": "rejected"}
            counts["not_acknowledged"] += 1
            log.warning("%s: answer to %s not acknowledged: %s", entry.key, order_id, message)
    if previous is not None and previous["state"] == "rejected" and decision:
        acceptances.forget_rejected(store, mp, country, order_id)  # the merchant answers again
        return True
    if previous is not None and previous["state"] != "sending":
        counts["already_answered"] += 1
        return False
    return True


def _answer_once(channel: AcceptFirstChannel, store: ShopStore, entry: Entry, order: MarketplaceOrder,
                 choice: str, claim: Any) -> str:
    """Send the claimed answer; the count it falls under. An attempt left in doubt, or refused
    because its first try got through, is settled by asking the marketplace."""
    from ordersync.shop import acceptances

    mp, country, order_id = entry.marketplace, entry.country, order.order_id
    done = "accepted" if choice == "accept" else "refused"
    if claim.in_doubt and channel.answered(order_id):
        acceptances.finish(store, mp, country, order_id, claim.token, "sent", "found on the marketplace after an interrupted attempt")
        return "already_answered"
    try:
        channel.answer(order, choice)
    except MarketplaceRequestError as exc:
        if channel.answered(order_id):  # a retried request whose first attempt got through
            acceptances.finish(store, mp, country, order_id, claim.token, "sent", f"answered on the marketplace ({exc.message})")
            return done
        acceptances.finish(store, mp, country, order_id, claim.token, "rejected", exc.message)
        log.warning("%s: %s of %s refused by the marketplace: %s", entry.key, choice, order_id, exc)
        return "failed"
    except Exception:
        acceptances.finish(store, mp, country, order_id, claim.token, "sending")  # unknown: verified later
        raise
    acceptances.finish(store, mp, country, order_id, claim.token, "sent")
    return done


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
        except Exception:  # noqa: BLE001 - unreadable: import sets it aside
            continue
    known = acceptances.answers(store, mp, country, [o.order_id for o in orders])
    orders = [o for o in orders if o.order_id not in known][:limit]
    catalog = catalog_for(store, entry, orders)
    out = []
    for order in orders:
        lines = []
        for line in order.lines:
            product = catalog.match(line.sku, line.asin, entry.prioritise_asin)
            lines.append({"sku": line.sku, "quantity": line.quantity, "stock": None if product is None else product.get("stock", 0)})
        out.append({"order_id": order.order_id, "lines": lines})
    return out
