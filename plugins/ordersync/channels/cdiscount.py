"""Cdiscount through Octopia's seller API v2 (REST; the SOAP Marketplace API is retired).

``GET /orders`` by last update (pages of ``pageSize``), ``POST /orders/{orderId}/approval-status``
to accept or refuse an order waiting for acceptance, ``POST /orders/{orderId}/shipments`` once per
parcel. Octopia's public reference was not reachable while this was written: paths follow the
issue, field names (``lines``, ``orderLineId``, ``sellerProductId``, ``parcelNumber``...) follow
the sandbox in :mod:`ordersync.sandbox.cdiscount`, which plays the same contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ordersync.channels.parsing import InvalidOrder, attempt, decimal_amount, iso, parse_time
from ordersync.errors import MarketplaceRequestError, UnsupportedAction
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus, Shipment, StagedOrder, Window

ORDERS = "/orders"
ORDER = "/orders/{order_id}"
APPROVAL = "/orders/{order_id}/approval-status"
SHIPMENTS = "/orders/{order_id}/shipments"

STATUSES = {
    "WaitingAcceptance": OrderStatus.WAITING_ACCEPTANCE,
    # accepted, Cdiscount still validating payment: nothing to import yet
    "Accepted": OrderStatus.OTHER,
    "InPreparation": OrderStatus.UNSHIPPED,  # seller-shipped and payable: imported
    "Shipped": OrderStatus.SHIPPED,
    "Delivered": OrderStatus.SHIPPED,
    # never imported; an imported one is cancelled in the shop (stock back)
    "Cancelled": OrderStatus.CANCELLED,
    "Refused": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.CANCELLED,
}


class CdiscountChannel:
    """Cdiscount orders of one seller (country FR).

    :param hook: an :class:`~ordersync.channel_hooks.OctopiaHook`.
    :param tracking_url: template of the parcel's tracking URL (``{tracking_number}``, ``{carrier}``).
    """

    name = "cdiscount"
    waiting_statuses = ("WaitingAcceptance",)  # raw statuses accept answers

    def __init__(self, hook: Any, country: str = "FR", page_size: int = 100, tracking_url: str | None = None):
        self.hook, self.country, self.page_size, self.tracking_url = hook, country, page_size, tracking_url

    # -- lookup ----------------------------------------------------------------------------

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """Any bound is accepted (no Amazon-style "two minutes ago" rule): the window as asked."""
        return window

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Iterator[list[StagedOrder]]:
        """Orders updated in ``window``, every status: cancellations must reach the shop too."""
        if fulfilment not in (None, Fulfillment.MERCHANT):
            return
        yield from self._listing({"updatedAtMin": iso(window.start), "updatedAtMax": iso(window.end)})

    def open_pages(self, since: datetime) -> Iterator[list[StagedOrder]]:
        """Orders created since ``since`` (every status is listed; import sorts them)."""
        yield from self._listing({"createdAtMin": iso(since)})

    def waiting_pages(self) -> Iterator[list[StagedOrder]]:
        """Every order waiting for acceptance, whatever its dates: one listed late (its update
        older than the window) still gets its answer before Cdiscount's deadline."""
        yield from self._listing({"status": self.waiting_statuses[0]})

    def _listing(self, filters: dict[str, Any]) -> Iterator[list[StagedOrder]]:
        """``GET /orders`` with ``filters``, page by page until ``totalCount`` is reached."""
        page = 1
        while True:
            params = {**filters, "pageIndex": page, "pageSize": self.page_size}
            body = self.hook.call("GET", ORDERS, params=params).json()
            items = [raw for raw in body.get("items") or [] if isinstance(raw, dict)]
            yield [self.stage(raw) for raw in items]
            if page * self.page_size >= int(body.get("totalCount") or 0) or not items:
                return
            page += 1

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        found, missing = [], []
        for order_id in order_ids:
            try:
                found.append(self.stage(self.hook.call("GET", ORDER.format(order_id=order_id)).json()))
            except MarketplaceRequestError as exc:
                if exc.status == 404:
                    missing.append(order_id)
                    continue
                raise
        return found, missing

    def stage(self, raw: dict[str, Any]) -> StagedOrder:
        try:
            updated = parse_time(raw.get("updatedAt"), "updatedAt")
        except InvalidOrder:
            updated = datetime.now(timezone.utc)
        lines = [i for i in raw.get("lines") or [] if isinstance(i, dict)]

        def quantity(i):
            return i.get("quantity") if isinstance(i.get("quantity"), int) else 0

        return StagedOrder(
            order_id=str(raw.get("orderId") or ""),
            status=str(raw.get("status") or "UNKNOWN")[:32],
            fulfillment=Fulfillment.MERCHANT.value,
            last_updated=updated,
            payload=raw,
            grid={
                "store_name": "Cdiscount",
                "purchase_date": attempt(lambda: parse_time(raw.get("createdAt"), "createdAt")),
                "total": attempt(lambda: decimal_amount(raw.get("totalAmount"), "totalAmount")),
                "currency": raw.get("currency") or "EUR",
                "items_shipped": sum(quantity(i) for i in lines if i.get("status") == "Shipped"),
                "items_unshipped": sum(quantity(i) for i in lines if i.get("status") != "Shipped"),
            },
        )

    # -- import ----------------------------------------------------------------------------

    def parse(self, raw: dict[str, Any]) -> MarketplaceOrder:
        order_id = raw.get("orderId")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrder("orderId is missing")
        raw_status = raw.get("status")
        if raw_status not in STATUSES:
            raise InvalidOrder(f"unknown order status {raw_status!r}")
        items = raw.get("lines")
        if not isinstance(items, list) or not items:
            raise InvalidOrder("lines is missing or empty")
        lines = tuple(self._line(item, i) for i, item in enumerate(items))
        total = (
            decimal_amount(raw["totalAmount"], "totalAmount")
            if raw.get("totalAmount") is not None
            else sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        )
        customer = raw.get("customer") or {}
        address = raw.get("shippingAddress")
        return MarketplaceOrder(
            marketplace=self.name,
            country=self.country,
            order_id=order_id,
            status=STATUSES[raw_status],
            fulfillment=Fulfillment.MERCHANT,
            purchase_date=parse_time(raw.get("createdAt"), "createdAt"),
            last_updated=parse_time(raw.get("updatedAt"), "updatedAt"),
            currency=raw.get("currency") or "EUR",
            total=total,
            lines=lines,
            buyer_name=" ".join(filter(None, (customer.get("firstName"), customer.get("lastName")))) or None,
            buyer_email=customer.get("email"),
            ship_to=self._address(address) if isinstance(address, dict) else None,
            service_level=raw.get("shippingMode"),
            raw_status=raw_status,
        )

    @staticmethod
    def _line(item: Any, index: int) -> OrderLine:
        where = f"lines[{index}]"
        if not isinstance(item, dict) or not item.get("orderLineId"):
            raise InvalidOrder(f"{where}.orderLineId is missing")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(f"{where}.quantity is not an integer: {quantity!r}")
        return OrderLine(
            line_id=str(item["orderLineId"]),
            sku=item.get("sellerProductId"),
            asin=None,
            title=item.get("productTitle") or item.get("sellerProductId") or "",
            quantity=quantity,  # <= 0 is rejected by the rules with reason invalid_value
            unit_price=decimal_amount(item.get("unitPrice", 0), f"{where}.unitPrice"),
            quantity_shipped=quantity if item.get("status") == "Shipped" else 0,
        )

    @staticmethod
    def _address(raw: dict[str, Any]) -> Address:
        return Address(
            name=" ".join(filter(None, (raw.get("firstName"), raw.get("lastName")))),
            line1=raw.get("street") or "",
            line2=raw.get("complement") or None,
            city=raw.get("city") or "",
            postal_code=raw.get("zipCode") or "",
            country_code=raw.get("countryCode") or "FR",
            phone=raw.get("phone"),
        )

    # -- accept ----------------------------------------------------------------------------

    def answer(self, order: MarketplaceOrder, decision: str) -> None:
        """Accept or refuse every line of an order waiting for acceptance."""
        self.hook.send_once(
            "POST",
            APPROVAL.format(order_id=order.order_id),
            already_done=lambda: self.answered(order.order_id),
            json={"status": "Accepted" if decision == "accept" else "Refused",
                  "orderLineIds": [line.line_id for line in order.lines]},
        )

    def answered(self, order_id: str) -> bool:
        """Whether Cdiscount already has an answer (checks an attempt left in doubt)."""
        try:
            body = self.hook.call("GET", ORDER.format(order_id=order_id)).json()
        except MarketplaceRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return body.get("status") != "WaitingAcceptance"

    def answer_failed(self, order_id: str) -> str | None:
        """Octopia takes an answer at once (a refusal is an error then): never fails later."""
        return None

    def cancel(self, order_id: str) -> None:
        raise UnsupportedAction("Cdiscount (Octopia) has no seller cancel action: refuse the order instead")

    def acknowledgements(self, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """A parcel Octopia took is final: every shipment sent is acknowledged."""
        return list(order_ids), {}

    # -- fulfillment -----------------------------------------------------------------------

    def confirm_shipment(self, shipment: Shipment, carrier_code: str, carrier_name: str | None) -> None:
        """One parcel: number, carrier, tracking URL and the order lines it holds."""
        url = None
        if self.tracking_url:
            url = self.tracking_url.format(tracking_number=shipment.tracking_number, carrier=carrier_name or carrier_code)
        try:
            self._post_parcel(shipment, carrier_code, carrier_name, url)
        except MarketplaceRequestError as exc:
            # a retry whose first attempt got through: the parcel is there, nothing to resend
            if exc.status == 409 and self.package_confirmed(shipment.order_id, shipment.package_ref):
                return
            raise

    def _post_parcel(self, shipment: Shipment, carrier_code: str, carrier_name: str | None, url: str | None) -> None:
        self.hook.send_once(
            "POST",
            SHIPMENTS.format(order_id=shipment.order_id),
            already_done=lambda: self.package_confirmed(shipment.order_id, shipment.package_ref),
            json={
                "externalReference": shipment.package_ref,  # lets package_confirmed find it again
                "parcelNumber": shipment.tracking_number,
                "carrierName": carrier_name or carrier_code,
                "trackingUrl": url,
                "orderLineIds": [line_id for line_id, _ in shipment.items],
            },
        )

    def package_confirmed(self, order_id: str, package_ref: str) -> bool:
        try:
            body = self.hook.call("GET", ORDER.format(order_id=order_id)).json()
        except MarketplaceRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return any(s.get("externalReference") == package_ref for s in body.get("shipments") or [])
