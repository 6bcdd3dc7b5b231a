"""Lengow API v3: one Lengow account serves many marketplaces; an entry reads one of them.

``GET /v3.0/orders`` by update window and marketplace, ``POST /v3.0/orders/actions/`` for accept,
refuse, ship and cancel, ``GET /v3.0/orders/actions/`` to see actions already queued so nothing
is sent twice. Lengow forwards an action to the marketplace, which acknowledges it later; an action
still unacknowledged after the marketplace's delay comes back with ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ordersync.channels.parsing import InvalidOrder, attempt, decimal_amount, iso, parse_time
from ordersync.errors import MarketplaceUnavailable
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus, Shipment, StagedOrder, Window

ORDERS = "/v3.0/orders"
ACTIONS = "/v3.0/orders/actions/"

STATUSES = {
    "waiting_acceptance": OrderStatus.WAITING_ACCEPTANCE,
    "accepted": OrderStatus.OTHER,  # accepted, the marketplace has not released it for shipping yet
    "waiting_shipment": OrderStatus.UNSHIPPED,
    "shipped": OrderStatus.SHIPPED,
    "closed": OrderStatus.SHIPPED,
    "partial_refunded": OrderStatus.SHIPPED,
    # never imported (they would move stock); an imported one is cancelled in the shop
    "canceled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.CANCELLED,
    "refused": OrderStatus.CANCELLED,
}


class LengowChannel:
    """Orders of one marketplace (``amazon_fr``, ``cdiscount``...) of one Lengow account.

    :param hook: a :class:`~ordersync.channel_hooks.LengowHook` (token and account id).
    :param lengow_marketplace: Lengow's code of the marketplace.
    """

    name = "lengow"
    waiting_statuses = ("waiting_acceptance",)

    def __init__(self, hook: Any, lengow_marketplace: str, country: str, page_size: int = 100):
        self.hook, self.lengow_marketplace, self.country, self.page_size = hook, lengow_marketplace, country, page_size

    # -- lookup ----------------------------------------------------------------------------

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """Any bound is accepted (no Amazon-style "two minutes ago" rule): the window as asked."""
        return window

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Iterator[list[StagedOrder]]:
        """This marketplace's orders updated in ``window``, every status."""
        if fulfilment not in (None, Fulfillment.MERCHANT):
            return
        yield from self._listing({"updated_from": iso(window.start), "updated_to": iso(window.end)})

    def open_pages(self, since: datetime) -> Iterator[list[StagedOrder]]:
        """Orders placed since ``since`` (every status is listed; import sorts them)."""
        yield from self._listing({"marketplace_order_date_from": iso(since)})

    def waiting_pages(self) -> Iterator[list[StagedOrder]]:
        """Every order of this marketplace waiting for acceptance, whatever its dates (one listed
        late still gets its answer before the marketplace's deadline)."""
        yield from self._listing({"lengow_status": self.waiting_statuses[0]})

    def _listing(self, filters: dict[str, Any]) -> Iterator[list[StagedOrder]]:
        """``GET /v3.0/orders`` of this account and marketplace with ``filters``, page by page."""
        page = 1
        while True:
            params = {"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace,
                      **filters, "page": page, "page_size": self.page_size}
            body = self.hook.call("GET", ORDERS, params=params).json()
            yield [self.stage(raw) for raw in body.get("results") or [] if isinstance(raw, dict)]
            if not body.get("next"):
                return
            page += 1

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        found, missing = [], []
        for order_id in order_ids:
            body = self.hook.call(
                "GET",
                ORDERS,
                params={"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace,
                        "marketplace_order_id": order_id},
            ).json()
            results = [r for r in body.get("results") or [] if isinstance(r, dict)]
            if results:
                found.append(self.stage(results[0]))
            else:
                missing.append(order_id)
        return found, missing

    def stage(self, raw: dict[str, Any]) -> StagedOrder:
        try:
            updated = parse_time(raw.get("updated_at"), "updated_at")
        except InvalidOrder:
            updated = datetime.now(timezone.utc)
        cart = [i for p in raw.get("packages") or [] if isinstance(p, dict) for i in p.get("cart") or [] if isinstance(i, dict)]

        def quantity(i):
            return i.get("quantity") if isinstance(i.get("quantity"), int) else 0

        return StagedOrder(
            order_id=str(raw.get("marketplace_order_id") or ""),
            status=str(raw.get("lengow_status") or "UNKNOWN")[:32],
            fulfillment=Fulfillment.MERCHANT.value,
            last_updated=updated,
            payload=raw,
            grid={
                "store_name": f"Lengow {self.lengow_marketplace}",
                "purchase_date": attempt(lambda: parse_time(raw.get("marketplace_order_date"), "marketplace_order_date")),
                "total": attempt(lambda: decimal_amount(raw.get("total_order"), "total_order")),
                "currency": (raw.get("currency") or {}).get("iso_a3") or "EUR",
                "items_shipped": sum(quantity(i) for i in cart if i.get("lengow_status") == "shipped"),
                "items_unshipped": sum(quantity(i) for i in cart if i.get("lengow_status") != "shipped"),
            },
        )

    # -- import ----------------------------------------------------------------------------

    def parse(self, raw: dict[str, Any]) -> MarketplaceOrder:
        order_id = raw.get("marketplace_order_id")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrder("marketplace_order_id is missing")
        raw_status = raw.get("lengow_status")
        if raw_status not in STATUSES:
            raise InvalidOrder(f"unknown lengow_status {raw_status!r}")
        packages = [p for p in raw.get("packages") or [] if isinstance(p, dict)]
        items = [i for p in packages for i in p.get("cart") or []]
        if not items:
            raise InvalidOrder("packages[].cart is missing or empty")
        lines = tuple(self._line(item, i) for i, item in enumerate(items))
        delivery = packages[0].get("delivery") if packages else None
        billing = raw.get("billing_address") or {}
        total = (
            decimal_amount(raw["total_order"], "total_order")
            if raw.get("total_order") is not None
            else sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        )
        return MarketplaceOrder(
            marketplace=self.name,
            country=self.country,
            order_id=order_id,
            status=STATUSES[raw_status],
            fulfillment=Fulfillment.MERCHANT,
            purchase_date=parse_time(raw.get("marketplace_order_date"), "marketplace_order_date"),
            last_updated=parse_time(raw.get("updated_at"), "updated_at"),
            currency=(raw.get("currency") or {}).get("iso_a3") or "EUR",
            total=total,
            lines=lines,
            buyer_name=" ".join(filter(None, (billing.get("first_name"), billing.get("last_name")))) or None,
            buyer_email=billing.get("email"),
            ship_to=self._address(delivery) if isinstance(delivery, dict) else None,
            service_level=raw.get("shipping_method"),
            raw_status=raw_status,
        )

    @staticmethod
    def _line(item: Any, index: int) -> OrderLine:
        where = f"cart[{index}]"
        if not isinstance(item, dict) or not item.get("marketplace_order_line_id"):
            raise InvalidOrder(f"{where}.marketplace_order_line_id is missing")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(f"{where}.quantity is not an integer: {quantity!r}")
        amount = decimal_amount(item.get("amount", 0), f"{where}.amount")  # Lengow's amount is the line total
        return OrderLine(
            line_id=str(item["marketplace_order_line_id"]),
            sku=(item.get("merchant_product_id") or {}).get("id"),
            asin=None,
            title=item.get("title") or "",
            quantity=quantity,
            unit_price=(amount / quantity).quantize(Decimal("0.01")) if quantity > 0 else amount,
            quantity_shipped=quantity if item.get("lengow_status") == "shipped" else 0,
        )

    @staticmethod
    def _address(raw: dict[str, Any]) -> Address:
        return Address(
            name=" ".join(filter(None, (raw.get("first_name"), raw.get("last_name")))),
            line1=raw.get("first_line") or "",
            line2=raw.get("second_line") or None,
            city=raw.get("city") or "",
            postal_code=raw.get("zipcode") or "",
            country_code=raw.get("common_country_iso_a2") or "",
            phone=raw.get("phone_mobile") or raw.get("phone_home"),
        )

    # -- actions ---------------------------------------------------------------------------

    def queued(self, order_id: str, action_type: str) -> list[dict[str, Any]]:
        """Actions of this type Lengow already holds for the order, oldest first."""
        body = self.hook.call(
            "GET",
            ACTIONS,
            params={"account_id": self.hook.account_id(), "marketplace_order_id": order_id, "action_type": action_type},
        ).json()
        return [a for a in body.get("results") or [] if isinstance(a, dict) and a.get("marketplace") in (None, self.lengow_marketplace)]

    def _act(self, order_id: str, action_type: str, **fields: Any) -> None:
        """Queue an action unless Lengow already holds one (an earlier attempt got through).

        The POST is never retried blindly: after a 5xx or a lost answer the queue is read again
        first, so an action is queued once."""
        body = {
            "account_id": self.hook.account_id(),
            "marketplace": self.lengow_marketplace,
            "marketplace_order_id": order_id,
            "action_type": action_type,
            **{k: v for k, v in fields.items() if v is not None},
        }
        attempts = 0
        while True:
            if any(not a.get("errors") for a in self.queued(order_id, action_type)):
                return
            try:
                self.hook.call("POST", ACTIONS, json=body, retry_unknown=False)
                return
            except MarketplaceUnavailable:
                attempts += 1
                if attempts > self.hook.max_retries:
                    raise
                self.hook.backoff_wait(attempts - 1)

    def answer(self, order: MarketplaceOrder, decision: str) -> None:
        self._act(order.order_id, "accept" if decision == "accept" else "refuse")

    def answered(self, order_id: str) -> bool:
        return any(not a.get("errors") for t in ("accept", "refuse") for a in self.queued(order_id, t))

    def answer_failed(self, order_id: str) -> str | None:
        """Lengow's message when every accept / refuse action of the order failed (the marketplace
        did not acknowledge it in time), else None."""
        actions = [a for kind in ("accept", "refuse") for a in self.queued(order_id, kind)]
        if actions and all(a.get("errors") for a in actions):
            errors = actions[-1]["errors"]
            return "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
        return None

    def cancel(self, order_id: str) -> None:
        self._act(order_id, "cancel")

    def confirm_shipment(self, shipment: Shipment, carrier_code: str, carrier_name: str | None) -> None:
        self._act(
            shipment.order_id,
            "ship",
            tracking_number=shipment.tracking_number,
            carrier=carrier_code if carrier_name is None else carrier_name,
            line=",".join(line_id for line_id, _ in shipment.items) or None,
        )

    def package_confirmed(self, shipment: Shipment) -> bool:
        return any(not a.get("errors") for a in self.queued(shipment.order_id, "ship"))

    def acknowledgements(self, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Of these orders' ship actions: those the marketplace acknowledged, and those it never
        will (Lengow put ``errors`` on them after the marketplace's delay), with the message."""
        done, failed = [], {}
        for order_id in order_ids:
            actions = self.queued(order_id, "ship")
            if any(a.get("processed") and not a.get("errors") for a in actions):
                done.append(order_id)
            elif actions and all(a.get("errors") for a in actions):
                errors = actions[-1]["errors"]
                failed[order_id] = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
        return done, failed
