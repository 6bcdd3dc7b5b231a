"""Cdiscount through Octopia's seller API v2 (REST; the SOAP Marketplace API is retired).

Shapes follow ``shared/reference/octopia/README.md`` (gathered from Octopia's developer portal
and public clients; no complete official payload exists). In short:

- ``GET /orders`` answers ``{"itemsPerPage", "items"}`` without a total; the next page is
  announced by a ``Link: <...>; rel="next"`` header, so paging follows that link;
- an order carries ``purchasedAt`` (the sale), ``createdAt`` (Octopia's record), ``updatedAt``,
  ``currencyCode``, ``billingAddress`` (the buyer) and ``lines[]``, each line with its own
  ``shippingAddress``, ``offer`` (``sellerProductId``, ``supplyMode``), ``totalPrice`` and the
  ``parcels`` already sent;
- the seller API serves every Octopia sales channel: an entry keeps the orders of its own
  (``salesChannel.id``), asked for with ``salesChannelId`` and checked again when parsing;
- ``POST /orders/{orderId}/approval-status`` answers an order, ``POST /orders/{orderId}/shipments``
  takes a JSON array of parcels.

Points the reference leaves open are marked "unconfirmed" where they are decided.

Over 400 lines on purpose: every field Octopia's reference lists, with its unconfirmed
alternatives, is read in this one module beside the calls that answer and ship, so one contract is
checked in one place against ``../shared/reference/octopia``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ordersync.channels.parsing import (
    InvalidOrder,
    attempt,
    decimal_amount,
    iso,
    items,
    mapping,
    parse_time,
    quoted,
    read_safely,
    stage_safely,
)
from ordersync.errors import MarketplaceRequestError, MarketplaceUnavailable, UnsupportedAction
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus, Shipment, StagedOrder, Window

ORDERS = "/orders"
ORDER = "/orders/{order_id}"
APPROVAL = "/orders/{order_id}/approval-status"
SHIPMENTS = "/orders/{order_id}/shipments"

# A stable order across pages, so a page boundary never skips or repeats an order while the
# listing is read. Only one public client sends this and the syntax is unconfirmed by Octopia.
SORT = "asc:updatedAt"

STATUSES = {
    # Octopia is still setting the order up: nothing to answer or import yet, it waits visibly
    "Processing": OrderStatus.AWAITING_RELEASE,
    "WaitingAcceptance": OrderStatus.WAITING_ACCEPTANCE,
    # accepted, Cdiscount still checks payment; since Nov. 2025 lines then go InPreparation
    "Accepted": OrderStatus.AWAITING_RELEASE,
    "InPreparation": OrderStatus.UNSHIPPED,  # released: imported, to ship
    "Shipped": OrderStatus.SHIPPED,
    "Delivered": OrderStatus.SHIPPED,
    # never imported; an imported one is cancelled in the shop (stock back)
    "Cancelled": OrderStatus.CANCELLED,
    "Refused": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.CANCELLED,
}
SHIPPED_LINE = ("Shipped", "Delivered")

# offer.supplyMode says who ships a line: Seller is the shop; Fulfillment and Xdock are Cdiscount's
# warehouses, which neither draw on the shop's stock nor wait for its parcels.
SELLER = "Seller"
MARKETPLACE_SUPPLY = ("Fulfillment", "Xdock")

_CURRENCY = re.compile(r"[A-Z]{3}")
_CENT = Decimal("0.01")


class CdiscountChannel:
    """Cdiscount orders of one seller (country FR) on one Octopia sales channel.

    :param hook: an :class:`~ordersync.channel_hooks.OctopiaHook`.
    :param tracking_url: template of the parcel's tracking URL (``{tracking_number}``, ``{carrier}``).
    :param sales_channel: the ``salesChannel.id`` this entry reads (the entry's ``sales_channel``);
        None reads and accepts every sales channel of the seller account.
    """

    name = "cdiscount"
    # Octopia documents no format: its sample id is letters and digits (SCID01210525142759UT8E)
    order_id_pattern = r"[A-Za-z0-9_-]{1,64}"
    waiting_statuses: tuple[str, ...] = ("WaitingAcceptance",)  # raw statuses accept answers

    def __init__(
        self,
        hook: Any,
        country: str = "FR",
        page_size: int = 100,
        tracking_url: str | None = None,
        sales_channel: str | None = None,
    ):
        self.hook, self.country, self.tracking_url, self.sales_channel = hook, country, tracking_url, sales_channel
        self.page_size = max(1, min(int(page_size), 100))  # Octopia refuses more than 100 a page

    # -- lookup ----------------------------------------------------------------------------

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """Any bound is accepted (no Amazon-style "two minutes ago" rule): the window as asked."""
        return window

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Iterator[list[StagedOrder]]:
        """Orders updated in ``window``, every status: cancellations must reach the shop too.

        ``supplyMode`` is a line's property and an order may mix them, so the fulfilment filter
        is applied here on each staged order rather than sent to Octopia.
        """
        for page in self._listing({"updatedAtMin": iso(window.start), "updatedAtMax": iso(window.end)}):
            yield page if fulfilment is None else [o for o in page if o.fulfillment == fulfilment.value]

    def open_pages(self, since: datetime) -> Iterator[list[StagedOrder]]:
        """Orders created since ``since`` (every status is listed; import sorts them)."""
        yield from self._listing({"createdAtMin": iso(since)})

    def waiting_pages(self) -> Iterator[list[StagedOrder]]:
        """Every order waiting for acceptance, whatever its dates: one listed late (its update
        older than the window) still gets its answer before Cdiscount's deadline."""
        yield from self._listing({"status": self.waiting_statuses[0]})

    def _listing(self, filters: dict[str, Any]) -> Iterator[list[StagedOrder]]:
        """``GET /orders`` page by page, following the ``rel="next"`` link.

        The first request names no ``pageIndex`` (whether Octopia counts from 0 or 1 is not
        documented): later pages are asked with the query of the link Octopia gave. Reading
        stops on a page without a next link, an empty page, or a page shorter than
        ``itemsPerPage``; the answer has no total to count against.
        """
        params: dict[str, Any] = {**filters, "sort": SORT, "pageSize": self.page_size}
        if self.sales_channel:
            params["salesChannelId"] = self.sales_channel
        asked = {_query_key(params)}
        while True:
            response = self.hook.call("GET", ORDERS, params=params)
            body = response.json()
            if not isinstance(body, dict):
                raise MarketplaceUnavailable(f"GET {ORDERS}: expected an object with items, got {type(body).__name__}")
            items = body.get("items") or []
            items = items if isinstance(items, list) else [items]
            yield [self.stage(raw) for raw in items]  # a non-object entry is kept (unreadable)
            following = _next_query(response)
            per_page = body.get("itemsPerPage")
            short = isinstance(per_page, int) and not isinstance(per_page, bool) and len(items) < per_page
            if following is None or not items or short:
                return
            params = {**params, **following}
            key = _query_key(params)
            if key in asked:  # a link back to a page already read would never end
                raise MarketplaceUnavailable(f"GET {ORDERS}: the next-page link repeats a page already read ({key})")
            asked.add(key)

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        found, missing = [], []
        for order_id in order_ids:
            body = self._order(order_id)
            if body is None:
                missing.append(order_id)
            else:
                found.append(self.stage(body))
        return found, missing

    def _order(self, order_id: str) -> dict[str, Any] | None:
        """``GET /orders/{orderId}``; None when Octopia does not know the order."""
        try:
            body = self.hook.call("GET", ORDER.format(order_id=order_id)).json()
        except MarketplaceRequestError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise MarketplaceUnavailable(f"GET {ORDER.format(order_id=order_id)}: expected an order object")
        return body

    @stage_safely("orderId")
    def stage(self, raw: dict[str, Any]) -> StagedOrder:
        """Key fields and order grid columns; never raises (import judges the payload)."""
        try:
            updated = parse_time(raw.get("updatedAt"), "updatedAt")
        except InvalidOrder:
            updated = datetime.now(timezone.utc)
        raw_lines = raw.get("lines")
        lines = [i for i in raw_lines if isinstance(i, dict)] if isinstance(raw_lines, list) else []

        def quantity(i: dict) -> int:
            q = i.get("quantity")
            return q if isinstance(q, int) and not isinstance(q, bool) else 0

        currency = raw.get("currencyCode")
        return StagedOrder(
            order_id=str(raw.get("orderId") or ""),
            status=str(raw.get("status") or "UNKNOWN")[:32],
            fulfillment=_staged_fulfillment(lines).value,
            last_updated=updated,
            payload=raw,
            grid={
                "store_name": "Cdiscount",
                "buyer_name": attempt(lambda: (_person(raw.get("billingAddress")) or "")[:255] or None),
                "purchase_date": attempt(lambda: parse_time(raw.get("purchasedAt"), "purchasedAt")),
                "latest_ship_date": attempt(lambda: parse_time(raw.get("shippedAtMax"), "shippedAtMax")),
                "total": attempt(lambda: sum((sum(_amounts(line, "")) for line in lines), Decimal("0")) if lines else None),
                "currency": currency if isinstance(currency, str) and _CURRENCY.fullmatch(currency) else None,
                "items_shipped": sum(quantity(i) for i in lines if i.get("status") in SHIPPED_LINE),
                "items_unshipped": sum(quantity(i) for i in lines if i.get("status") not in SHIPPED_LINE),
            },
        )

    # -- import ----------------------------------------------------------------------------

    @read_safely
    def parse(self, raw: dict[str, Any]) -> MarketplaceOrder:
        if not isinstance(raw, dict):
            raise InvalidOrder("the order is not a JSON object")
        order_id = raw.get("orderId")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrder("orderId is missing")
        self._check_sales_channel(raw)
        raw_status = raw.get("status")
        if not isinstance(raw_status, str) or raw_status not in STATUSES:
            raise InvalidOrder(f"status: unknown order status {quoted(raw_status)}")
        currency = raw.get("currencyCode")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise InvalidOrder(f"currencyCode is missing or not an ISO 4217 code: {quoted(currency)}")
        items = raw.get("lines")
        if not isinstance(items, list) or not items:
            raise InvalidOrder("lines is missing or empty")
        parsed = [_line(item, i) for i, item in enumerate(items)]
        fulfillment = _fulfillment([(line.line_id, supply) for line, supply, _, _ in parsed])
        billing = mapping(raw.get("billingAddress"))
        email = billing.get("email")
        return MarketplaceOrder(
            marketplace=self.name,
            country=self.country,
            order_id=order_id,
            status=STATUSES[raw_status],
            fulfillment=fulfillment,
            purchase_date=parse_time(raw.get("purchasedAt"), "purchasedAt"),
            last_updated=parse_time(raw.get("updatedAt"), "updatedAt"),
            currency=currency,
            # what the buyer pays: every line's selling price and shipping cost
            total=sum((selling + shipping for _, _, selling, shipping in parsed), Decimal("0")),
            lines=tuple(line for line, _, _, _ in parsed),
            buyer_name=_person(billing),
            buyer_email=email if isinstance(email, str) and email else None,
            ship_to=_ship_to(items),
            latest_ship_date=attempt(lambda: parse_time(raw.get("shippedAtMax"), "shippedAtMax")),
            raw_status=raw_status,
        )

    def _check_sales_channel(self, raw: dict[str, Any]) -> None:
        """An order of another Octopia sales channel is never imported as this entry's."""
        if not self.sales_channel:
            return
        channel = raw.get("salesChannel")
        found = channel.get("id") if isinstance(channel, dict) else None
        if found != self.sales_channel:
            raise InvalidOrder(
                f"salesChannel.id {quoted(found)} is not this entry's channel {quoted(self.sales_channel)} "
                "(the seller account also sells on other Octopia sales channels)"
            )

    # -- accept ----------------------------------------------------------------------------

    def answer(self, order: MarketplaceOrder, decision: str) -> None:
        """Accept or refuse the whole order (Octopia has no line-level answer).

        ``Refused`` for a refusal is unconfirmed by Octopia (two public clients send it). An
        answer lost on the way is looked up on the order before it is sent again.
        """
        self.hook.send_once(
            "POST",
            APPROVAL.format(order_id=order.order_id),
            already_done=lambda: self.answered(order.order_id),
            json={"approval_status": "Accepted" if decision == "accept" else "Refused"},
        )

    def answered(self, order_id: str) -> bool:
        """Whether Cdiscount already has an answer (checks an attempt left in doubt)."""
        body = self._order(order_id)
        return body is not None and body.get("status") != "WaitingAcceptance"

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
        """Declare one parcel: its number (the tracking number), carrier, tracking URL and lines.

        Octopia keeps no reference of ours, only the parcel number, so the order is read first:
        a parcel already there (an earlier attempt whose answer was lost) is not sent again, and
        only the order's seller-shipped lines are named (the marketplace ships the others).
        Octopia's parcel names lines, not quantities: a line is declared whole.
        """
        order = self._order(shipment.order_id)
        if order is None:
            raise MarketplaceRequestError(404, "NotFound", f"Octopia does not know order {shipment.order_id}")
        if _has_parcel(order, shipment.tracking_number):
            return
        seller_lines = _seller_line_ids(order)
        wanted = [line_id for line_id, _ in shipment.items] or seller_lines
        lines = [line_id for line_id in wanted if line_id in seller_lines]
        if not lines:
            raise MarketplaceRequestError(
                422, "NoSellerLine",
                f"order {shipment.order_id}: none of lines {wanted} is shipped by the seller (supplyMode Seller)",
            )
        parcel: dict[str, Any] = {
            "parcelNumber": shipment.tracking_number,
            "carrierName": carrier_name or carrier_code,
            "orderLineIds": lines,
        }
        if self.tracking_url:
            parcel["trackingUrl"] = self.tracking_url.format(
                tracking_number=shipment.tracking_number, carrier=carrier_name or carrier_code
            )
        self._post_parcels(shipment, [parcel])

    def _post_parcels(self, shipment: Shipment, parcels: list[dict[str, Any]]) -> None:
        """POST the parcels; an answer lost on the way is looked up on the order before any resend."""
        try:
            self.hook.send_once(
                "POST",
                SHIPMENTS.format(order_id=shipment.order_id),
                json=parcels,
                already_done=lambda: self.package_confirmed(shipment),
            )
        except MarketplaceRequestError as exc:
            # a duplicate refused (an earlier attempt got through): the parcel is there
            if exc.status == 409 and self.package_confirmed(shipment):
                return
            raise

    def package_confirmed(self, shipment: Shipment) -> bool:
        """Whether the order already shows the parcel (its number is the tracking number) in
        ``lines[].parcels[].parcelNumber``: Octopia knows parcels by number only."""
        order = self._order(shipment.order_id)
        return order is not None and _has_parcel(order, shipment.tracking_number)


# -- payload reading -------------------------------------------------------------------------


def _line(item: Any, index: int) -> tuple[OrderLine, str, Decimal, Decimal]:
    """One order line, its supply mode, selling price and shipping cost."""
    where = f"lines[{index}]"
    if not isinstance(item, dict):
        raise InvalidOrder(f"{where} is not an object")
    line_id = _line_id(item)
    if line_id is None:
        raise InvalidOrder(f"{where}.lineId (or orderLineId) is missing")
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise InvalidOrder(f"{where}.quantity is not an integer: {quoted(quantity)}")
    offer = item.get("offer")
    if not isinstance(offer, dict):
        raise InvalidOrder(f"{where}.offer is missing")
    sku = offer.get("sellerProductId")
    if not isinstance(sku, str) or not sku:
        raise InvalidOrder(f"{where}.offer.sellerProductId is missing")
    supply = offer.get("supplyMode")
    if supply != SELLER and supply not in MARKETPLACE_SUPPLY:
        raise InvalidOrder(f"{where}.offer.supplyMode: unknown supply mode {quoted(supply)}")
    selling, shipping = _amounts(item, where)
    # totalPrice.sellingPrice is read as the line's total (the object is named totalPrice; unit
    # or line total is unconfirmed): the shop's unit price is that total over the quantity
    unit = (selling / quantity).quantize(_CENT, rounding=ROUND_HALF_UP) if quantity > 0 else selling
    line = OrderLine(
        line_id=line_id,
        sku=sku,
        asin=None,
        title=sku,  # the reference shows no product title on a line
        quantity=quantity,  # <= 0 is rejected by the rules with reason invalid_value
        unit_price=unit,
        quantity_shipped=quantity if item.get("status") in SHIPPED_LINE else 0,
    )
    return line, supply, selling, shipping


def _amounts(item: dict[str, Any], where: str) -> tuple[Decimal, Decimal]:
    """(sellingPrice, shippingCost or 0) of a line's totalPrice."""
    price = item.get("totalPrice")
    if not isinstance(price, dict):
        raise InvalidOrder(f"{where}.totalPrice is missing")
    selling = decimal_amount(price.get("sellingPrice"), f"{where}.totalPrice.sellingPrice")
    cost = price.get("shippingCost")
    shipping = decimal_amount(cost, f"{where}.totalPrice.shippingCost") if cost is not None else Decimal("0")
    return selling, shipping


def _line_id(item: dict[str, Any]) -> str | None:
    """``lineId``, or ``orderLineId`` as some clients name it (unconfirmed which is Octopia's)."""
    for key in ("lineId", "orderLineId"):
        value = item.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _supply(item: dict[str, Any]) -> Any:
    offer = item.get("offer")
    return offer.get("supplyMode") if isinstance(offer, dict) else None


def _fulfillment(lines: list[tuple[str, str]]) -> Fulfillment:
    """Who ships the order; a mix of seller and marketplace lines is refused (not supported:
    the shop would have to import half an order)."""
    seller = [line_id for line_id, supply in lines if supply == SELLER]
    others = [f"{line_id} ({supply})" for line_id, supply in lines if supply != SELLER]
    if seller and others:
        raise InvalidOrder(
            f"mixed fulfilment is not supported: lines {', '.join(others)} are shipped by the marketplace "
            f"and lines {', '.join(seller)} by the seller"
        )
    return Fulfillment.MERCHANT if seller else Fulfillment.MARKETPLACE


def _staged_fulfillment(lines: list[dict[str, Any]]) -> Fulfillment:
    """Marketplace only when every line says so; anything else (mixed, unreadable) is the
    merchant's, so it shows among the orders the shop must look at."""
    modes = [_supply(line) for line in lines]
    if modes and all(mode in MARKETPLACE_SUPPLY for mode in modes):
        return Fulfillment.MARKETPLACE
    return Fulfillment.MERCHANT


def _seller_line_ids(order: dict[str, Any]) -> list[str]:
    lines = items(order.get("lines"))
    return [
        line_id
        for line in lines
        if isinstance(line, dict) and _supply(line) == SELLER and (line_id := _line_id(line)) is not None
    ]


def _has_parcel(order: dict[str, Any], parcel_number: str | None) -> bool:
    if not parcel_number:
        return False
    lines = items(order.get("lines"))
    return any(
        isinstance(parcel, dict) and parcel.get("parcelNumber") == parcel_number
        for line in lines
        if isinstance(line, dict) and isinstance(line.get("parcels"), list)
        for parcel in line["parcels"]
    )


def _person(raw: Any) -> str | None:
    """First and last name of an address (the company when there is no name)."""
    if not isinstance(raw, dict):
        return None
    names = [value for k in ("firstName", "lastName") if isinstance(value := raw.get(k), str) and value]
    if names:
        return " ".join(names)
    company = raw.get("companyName")
    return company if isinstance(company, str) and company else None


def _ship_to(lines: list[Any]) -> Address | None:
    """The address of the first seller-shipped line (each line carries its own); a marketplace-
    shipped order has none of ours, so its first line's address is kept for the record."""
    readable = [line for line in lines if isinstance(line, dict) and isinstance(line.get("shippingAddress"), dict)]
    chosen = next((line for line in readable if _supply(line) == SELLER), readable[0] if readable else None)
    if chosen is None:
        return None
    raw = chosen["shippingAddress"]

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value else None

    return Address(
        name=_person(raw) or "",
        line1=text("addressLine1") or "",
        line2=text("addressLine2"),
        city=text("city") or "",
        postal_code=text("postalCode") or "",
        country_code=text("countryCode") or "FR",
        phone=text("phone"),
    )


def _next_query(response: Any) -> dict[str, Any] | None:
    """The query of the ``rel="next"`` link, or None on the last page.

    The link is a full URL; only its query is used (the hook calls paths under the connection's
    base URL). A next link without a query cannot be followed that way: failing beats stopping
    silently after one page.
    """
    links = getattr(response, "links", None) or {}
    following = links.get("next") if isinstance(links, dict) else None
    url = following.get("url") if isinstance(following, dict) else None
    if not url:
        return None
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    if not query:
        raise MarketplaceUnavailable(f"GET {ORDERS}: cannot follow the next-page link {url!r} (no query)")
    return {key: values[0] if len(values) == 1 else values for key, values in query.items()}


def _query_key(params: dict[str, Any]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params))
