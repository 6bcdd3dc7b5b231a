"""Amazon: Orders API v2026-01-01 for reading, Orders v0 ``confirmShipment`` for shipments.

Reads list a whole page of orders with buyer, recipient, proceeds and fulfillment included
(``includedData``), so the normal path costs one request per 100 orders and no per-order calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ordersync.channels.parsing import (
    InvalidOrder,
    attempt,
    decimal_amount,
    iso,
    parse_time,
    quoted,
    read_safely,
    stage_safely,
)
from ordersync.errors import MarketplaceRequestError
from ordersync.marketplaces import BY_MARKETPLACE_ID, AmazonMarketplace, amazon_marketplace
from ordersync.model import (
    Address,
    Fulfillment,
    MarketplaceOrder,
    OrderLine,
    OrderStatus,
    Shipment,
    StagedOrder,
    Window,
)

SEARCH_ORDERS = "/orders/2026-01-01/orders"
GET_ORDER = "/orders/2026-01-01/orders/{order_id}"
CONFIRM_SHIPMENT = "/orders/v0/orders/{order_id}/shipmentConfirmation"
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT")
# Amazon answers 400 when a "before" bound is less than two minutes in the past
LATEST_ALLOWED = timedelta(minutes=2)
# A listing whose paging token keeps failing is given up after this many restarts (the task
# fails and Airflow retries it); one expired token is normal after a long 429 storm.
_MAX_RESTARTS = 10
# Statuses the import layer acts on when onboarding a seller: still to ship.
OPEN_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED")
# Orders that can still be missing from the shop or whose change the shop must still carry
# (recovery's doublecheck): pending (a reservation), still to ship, or cancelled (a cancellation
# listed late must still restore the stock). Shipped merchant orders, most of them, were shipped
# by the shop itself: re-listing them every day would cost most of the pages for nothing.
UNSETTLED_STATUSES = ("PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "CANCELLED")
# searchOrders takes at most this many marketplace ids
MAX_MARKETPLACES = 50
FULFILLED_BY = {Fulfillment.MERCHANT: "MERCHANT", Fulfillment.MARKETPLACE: "AMAZON"}

STATUSES = {
    "PENDING": OrderStatus.PENDING,
    "PENDING_AVAILABILITY": OrderStatus.PENDING,
    "UNSHIPPED": OrderStatus.UNSHIPPED,
    "PARTIALLY_SHIPPED": OrderStatus.PARTIALLY_SHIPPED,
    "SHIPPED": OrderStatus.SHIPPED,
    "CANCELLED": OrderStatus.CANCELLED,
}


def _money(value: Any, field: str) -> Decimal:
    """An SP-API ``Money`` object's amount."""
    if not isinstance(value, dict) or "amount" not in value:
        raise InvalidOrder(f"{field} is not a money amount: {quoted(value)}")
    return decimal_amount(value["amount"], field)


class AmazonChannel:
    """Amazon orders for one country of one seller account.

    :param hook: an :class:`~ordersync.hooks.AmazonSpApiHook` (credentials, retries, throttling).
    :param country: the entry's country; gives the marketplace id.
    :param page_size: orders per searchOrders page (1-100).
    """

    name = "amazon"
    order_id_pattern = r"\d{3}-\d{7}-\d{7}"  # e.g. 402-1234567-1234567 (SP-API's documented form)
    unsettled_statuses = UNSETTLED_STATUSES

    def __init__(self, hook: Any, country: str, page_size: int = 100):
        self.hook = hook
        self.marketplace: AmazonMarketplace = amazon_marketplace(country)
        self.country = self.marketplace.country
        self.page_size = page_size
        self.restarts = 0  # listings restarted after a refused paging token

    # -- lookup ----------------------------------------------------------------------------

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """The window Amazon accepts now: its end at least two minutes in the past."""
        end = min(window.end, now - LATEST_ALLOWED)
        return Window(window.start, end) if end > window.start else None

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Iterator[list[StagedOrder]]:
        """Orders last updated in ``window`` (not created: an order created earlier that became
        importable inside the window is seen), ``fulfilment`` sent as ``fulfilledBy``."""
        yield from self._listing("lastUpdated", window.start, window.end, fulfilment, ())

    def region_pages(
        self,
        window: Window,
        countries: tuple[str, ...],
        *,
        fulfilment: Fulfillment | None = None,
        unsettled_only: bool = False,
    ) -> Iterator[dict[str, list[StagedOrder]]]:
        """One listing over the marketplaces of ``countries`` (same seller account and region), a
        page at a time, each page split by the order's own marketplace (``salesChannel``).

        An order whose marketplace id is missing or not one of ``countries`` stays with this
        channel's country (staged, and set aside at import if it does not parse).
        """
        ids = {amazon_marketplace(c).marketplace_id: amazon_marketplace(c).country for c in countries}
        if len(ids) > MAX_MARKETPLACES:
            raise ValueError(f"searchOrders takes at most {MAX_MARKETPLACES} marketplaces, got {len(ids)}")
        statuses = UNSETTLED_STATUSES if unsettled_only else ()
        for page in self._listing("lastUpdated", window.start, window.end, fulfilment, statuses, tuple(ids)):
            split: dict[str, list[StagedOrder]] = {}
            for order in page:
                sales = order.payload.get("salesChannel") if isinstance(order.payload, dict) else None
                mid = sales.get("marketplaceId") if isinstance(sales, dict) else None
                split.setdefault(ids.get(str(mid), self.country), []).append(order)
            yield split

    def open_pages(self, since: datetime) -> Iterator[list[StagedOrder]]:
        """Orders created since ``since`` still UNSHIPPED / PARTIALLY_SHIPPED; no upper bound
        (Amazon then reads up to two minutes before the request)."""
        yield from self._listing("created", since, None, None, OPEN_STATUSES)

    def _listing(
        self,
        by: str,
        start: datetime,
        end: datetime | None,
        fulfilment: Fulfillment | None,
        statuses: tuple[str, ...],
        marketplace_ids: tuple[str, ...] = (),
    ) -> Iterator[list[StagedOrder]]:
        """``searchOrders`` page by page (this channel's marketplace, or ``marketplace_ids``).

        A paging token Amazon refuses (expired, or the listing changed under it) restarts the
        listing from the last order received rather than from scratch: pages are sorted by the
        window's field, bounds are inclusive, and staging is idempotent, so nothing is lost and
        at most a page boundary is read twice.
        """
        field = "lastUpdatedTime" if by == "lastUpdated" else "createdTime"
        fulfilled_by = None if fulfilment is None else FULFILLED_BY[fulfilment]
        ids = marketplace_ids or (self.marketplace.marketplace_id,)
        params = self._search_params(by, start, end, fulfilled_by, statuses, ids)
        while True:
            try:
                body = self.hook.call("GET", SEARCH_ORDERS, params=params, operation="searchOrders").json()
            except MarketplaceRequestError as exc:
                if exc.status != 400 or "paginationToken" not in params or self.restarts >= _MAX_RESTARTS:
                    raise
                self.restarts += 1
                params = self._search_params(by, start, end, fulfilled_by, statuses, ids)
                continue
            entries = body.get("orders") or []
            entries = entries if isinstance(entries, list) else [entries]
            raws = [raw for raw in entries if isinstance(raw, dict)]
            yield [self.stage(raw) for raw in entries]  # a non-object entry is kept (unreadable)
            for raw in reversed(raws):  # resume point: the newest order of the listing so far
                try:
                    start = max(start, parse_time(raw.get(field), field))
                    break
                except InvalidOrder:
                    continue
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return
            params = {**params, "paginationToken": token}

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        """Named orders with ``getOrder`` (manual actions only: one request each); and the unknown ids."""
        found, missing = [], []
        for order_id in order_ids:
            try:
                body = self.hook.call(
                    "GET", GET_ORDER.format(order_id=order_id), params={"includedData": ",".join(INCLUDED_DATA)}
                ).json()
            except MarketplaceRequestError as exc:
                if exc.status in (400, 404):
                    missing.append(order_id)
                    continue
                raise
            found.append(self.stage(body.get("order") or {}))
        return found, missing

    def _search_params(
        self,
        by: str,
        start: datetime,
        end: datetime | None,
        fulfilled_by: str | None,
        statuses: tuple[str, ...],
        marketplace_ids: tuple[str, ...],
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"marketplaceIds": ",".join(marketplace_ids), f"{by}After": iso(start)}
        if end is not None:
            params[f"{by}Before"] = iso(end)
        if statuses:
            params["fulfillmentStatuses"] = ",".join(statuses)
        if fulfilled_by:
            params["fulfilledBy"] = fulfilled_by
        params["maxResultsPerPage"] = self.page_size
        params["includedData"] = ",".join(INCLUDED_DATA)
        return params

    @stage_safely("orderId")
    def stage(self, raw: dict[str, Any]) -> StagedOrder:
        """Key fields for the inbox; tolerant, so a malformed order is kept and reported later."""
        fulfillment = raw.get("fulfillment") or {}
        try:
            updated = parse_time(raw.get("lastUpdatedTime"), "lastUpdatedTime")
        except InvalidOrder:
            updated = datetime.now(timezone.utc)
        by = Fulfillment.MARKETPLACE if fulfillment.get("fulfilledBy") == "AMAZON" else Fulfillment.MERCHANT
        return StagedOrder(
            order_id=str(raw.get("orderId") or ""),
            status=str(fulfillment.get("fulfillmentStatus") or "UNKNOWN")[:32],
            fulfillment=by.value,
            last_updated=updated,
            payload=raw,
            grid=self._grid(raw),
        )

    def _grid(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Order grid columns; a field that does not parse is left empty, never an error."""
        sales = raw.get("salesChannel")
        marketplace = BY_MARKETPLACE_ID.get(str(sales.get("marketplaceId"))) if isinstance(sales, dict) else None
        marketplace = marketplace or self.marketplace  # a region-wide listing holds every country's orders
        items = [i for i in raw.get("orderItems") or [] if isinstance(i, dict)]
        grand = (raw.get("proceeds") or {}).get("grandTotal") or {}
        ship_by = ((raw.get("fulfillment") or {}).get("shipByWindow") or {}).get("latestDateTime")
        return {
            "store_name": marketplace.name,
            "buyer_name": ((raw.get("buyer") or {}).get("buyerName") or "")[:255] or None,
            "purchase_date": attempt(lambda: parse_time(raw.get("createdTime"), "createdTime")),
            "latest_ship_date": attempt(lambda: parse_time(ship_by, "shipByWindow")) if ship_by else None,
            "total": attempt(lambda: _money(grand, "grandTotal")) if grand else None,
            "currency": grand.get("currencyCode") or marketplace.currency,
            "is_prime": "PRIME" in (raw.get("programs") or []),
            "items_shipped": attempt(lambda: sum(int((i.get("fulfillment") or {}).get("quantityFulfilled") or 0) for i in items)),
            "items_unshipped": attempt(lambda: sum(int((i.get("fulfillment") or {}).get("quantityUnfulfilled") or 0) for i in items)),
        }

    # -- import ----------------------------------------------------------------------------

    @read_safely
    def parse(self, raw: dict[str, Any]) -> MarketplaceOrder:
        """A searchOrders/getOrder ``Order`` as a :class:`MarketplaceOrder`, or :class:`InvalidOrder`."""
        order_id = raw.get("orderId")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrder("orderId is missing")
        fulfillment = raw.get("fulfillment")
        if not isinstance(fulfillment, dict) or "fulfillmentStatus" not in fulfillment:
            raise InvalidOrder("fulfillment.fulfillmentStatus is missing (FULFILLMENT not included?)")
        raw_status = fulfillment["fulfillmentStatus"]
        status = STATUSES.get(raw_status, OrderStatus.OTHER)
        items = raw.get("orderItems")
        if not isinstance(items, list) or not items:
            raise InvalidOrder("orderItems is missing or empty")
        lines = tuple(self._line(item, i) for i, item in enumerate(items))
        currency = self.marketplace.currency
        proceeds = raw.get("proceeds") or {}
        if "grandTotal" in proceeds:
            total = _money(proceeds["grandTotal"], "proceeds.grandTotal")
            currency = proceeds["grandTotal"].get("currencyCode") or currency
        else:
            total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        ship_by = (fulfillment.get("shipByWindow") or {}).get("latestDateTime")
        buyer = raw.get("buyer") or {}
        return MarketplaceOrder(
            marketplace=self.name,
            country=self.country,
            order_id=order_id,
            status=status,
            fulfillment=Fulfillment.MARKETPLACE
            if fulfillment.get("fulfilledBy") == "AMAZON"
            else Fulfillment.MERCHANT,
            purchase_date=parse_time(raw.get("createdTime"), "createdTime"),
            last_updated=parse_time(raw.get("lastUpdatedTime"), "lastUpdatedTime"),
            currency=currency,
            total=total,
            lines=lines,
            buyer_name=buyer.get("buyerName"),
            buyer_email=buyer.get("buyerEmail"),
            ship_to=self._address((raw.get("recipient") or {}).get("deliveryAddress")),
            latest_ship_date=parse_time(ship_by, "shipByWindow.latestDateTime") if ship_by else None,
            is_prime="PRIME" in (raw.get("programs") or []),
            service_level=fulfillment.get("fulfillmentServiceLevel"),
            raw_status=raw_status,
        )

    def _line(self, item: Any, index: int) -> OrderLine:
        where = f"orderItems[{index}]"
        if not isinstance(item, dict) or not item.get("orderItemId"):
            raise InvalidOrder(f"{where}.orderItemId is missing")
        quantity = item.get("quantityOrdered")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(f"{where}.quantityOrdered is not an integer: {quoted(quantity)}")
        product = item.get("product") or {}
        price = (product.get("price") or {}).get("unitPrice")
        shipped = (item.get("fulfillment") or {}).get("quantityFulfilled") or 0
        return OrderLine(
            line_id=str(item["orderItemId"]),
            sku=product.get("sellerSku"),
            asin=product.get("asin"),
            title=product.get("title") or product.get("sellerSku") or "",
            quantity=quantity,
            unit_price=_money(price, f"{where}.product.price.unitPrice") if price else Decimal("0"),
            quantity_shipped=int(shipped),
        )

    @staticmethod
    def _address(raw: Any) -> Address | None:
        if not isinstance(raw, dict):
            return None
        return Address(
            name=raw.get("name") or "",
            line1=raw.get("addressLine1") or "",
            line2=" ".join(filter(None, (raw.get("addressLine2"), raw.get("addressLine3")))) or None,
            city=raw.get("city") or "",
            postal_code=raw.get("postalCode") or "",
            country_code=raw.get("countryCode") or "",
            region=raw.get("stateOrRegion"),
            phone=raw.get("phone"),
        )

    # -- fulfillment -----------------------------------------------------------------------

    def confirm_shipment(self, shipment: Shipment, carrier_code: str, carrier_name: str | None) -> None:
        """Send one package with ``confirmShipment``; a 400 raises :class:`MarketplaceRequestError`."""
        package: dict[str, Any] = {
            "packageReferenceId": shipment.package_ref,
            "carrierCode": carrier_code,
            "trackingNumber": shipment.tracking_number,
            "shipDate": iso(shipment.ship_date),
            "orderItems": [{"orderItemId": line_id, "quantity": qty} for line_id, qty in shipment.items],
        }
        if carrier_name:
            package["carrierName"] = carrier_name
        if shipment.shipping_method:
            package["shippingMethod"] = shipment.shipping_method
        self.hook.send_once(
            "POST",
            CONFIRM_SHIPMENT.format(order_id=shipment.order_id),
            json={"marketplaceId": self.marketplace.marketplace_id, "packageDetail": package},
            operation="confirmShipment",
            # an answer lost after Amazon took the package: look before sending it again
            already_done=lambda: self.package_confirmed(shipment),
        )

    def package_confirmed(self, shipment: Shipment) -> bool:
        """Whether Amazon already holds this package (checks an attempt left in doubt)."""
        try:
            body = self.hook.call(
                "GET", GET_ORDER.format(order_id=shipment.order_id), params={"includedData": "PACKAGES"}, operation="getOrder"
            ).json()
        except MarketplaceRequestError as exc:
            if exc.status == 404:
                return False
            raise
        packages = (body.get("order") or {}).get("packages") or []
        return any(p.get("packageReferenceId") == shipment.package_ref for p in packages)
