"""fulfillment: confirm to the marketplace what the shop shipped, each package once."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ordersync.channels.contract import AcceptFirstChannel, Channel
from ordersync.errors import MarketplaceRequestError
from ordersync.model import Shipment
from ordersync.shop.store import ShopStore, utcnow

if TYPE_CHECKING:
    from ordersync.config import Entry

log = logging.getLogger(__name__)

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
