"""Lengow API v3: one Lengow account serves many marketplaces; an entry reads one of them.

Listing: ``GET /v3.0/orders`` of the account and marketplace, paged by ``count`` / ``next`` /
``previous`` / ``results`` (``page_size`` at most 100). Every listing carries a date filter:
Lengow is reported to read only the last 7 days when a request has none, so id lookups and the
waiting-for-acceptance listing send a wide ``updated_from`` of their own.

Actions: ``POST /v3.0/orders/actions/`` (accept, refuse, ship, cancel). What each marketplace
wants with an action differs and is read once per channel instance from ``GET /v3.0/marketplaces``
(``orders.actions.<type>.args`` required, ``optional_args``, and ``orders.carriers``): where the
required args name ``line`` one action goes per order line, else one for the order. A required
argument we cannot fill is refused here, before anything is sent. ``GET /v3.0/orders/actions/``
is read before every POST so an action is never queued twice; Lengow forwards it to the
marketplace, which acknowledges it later (``processed``) or never (``errors``).

Decisions where the reference is silent are marked "choice:" below.

Over 400 lines on purpose: Lengow's actions depend on each marketplace's rules and on the
order's lines as the listing reads them (per-line actions, their queue, their acknowledgements),
so reading orders and acting on them stay in one module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

from ordersync.channels.parsing import (
    InvalidOrder,
    attempt,
    decimal_amount,
    iso,
    mapping,
    parse_time,
    quoted,
    read_safely,
    stage_safely,
)
from ordersync.errors import MarketplaceRequestError, UnsupportedAction
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus, Shipment, StagedOrder, Window

ORDERS = "/v3.0/orders"
ACTIONS = "/v3.0/orders/actions/"
MARKETPLACES = "/v3.0/marketplaces"
MAX_PAGE_SIZE = 100

# choice: how far back an id lookup (manual actions) reads. A year covers the return and refund
# period of any order a merchant still acts on; without a window Lengow would read 7 days only.
FETCH_LOOKBACK = timedelta(days=365)
# choice: how far back the waiting-for-acceptance listing reads. The status filter keeps the
# listing small, so the window only has to be wider than any marketplace's acceptance deadline.
WAITING_LOOKBACK = timedelta(days=90)
# Open orders for onboarding: merchant orders still to ship, and eBay click-and-collect orders
# still to prepare.
OPEN_STATUSES = ("waiting_shipment", "pickup_to_prepare")

STATUSES = {
    "new": OrderStatus.AWAITING_RELEASE,  # the marketplace is still creating it
    "waiting_acceptance": OrderStatus.WAITING_ACCEPTANCE,
    "accepted": OrderStatus.AWAITING_RELEASE,  # accepted; the marketplace has not released it yet
    "waiting_shipment": OrderStatus.UNSHIPPED,
    "shipped": OrderStatus.SHIPPED,
    "closed": OrderStatus.SHIPPED,
    "partial_refunded": OrderStatus.SHIPPED,  # shipped, part of it refunded afterwards
    # never imported (they would move stock); an imported one is cancelled in the shop
    "canceled": OrderStatus.CANCELLED,
    "refused": OrderStatus.CANCELLED,
    "refunded": OrderStatus.CANCELLED,
    "refunding": OrderStatus.CANCELLED,
    "to_refund": OrderStatus.CANCELLED,
    # choice, eBay click-and-collect: a sale the shop prepares for the buyer to collect takes
    # stock like any merchant order, so "to prepare" is UNSHIPPED (imported, stock moves). Once
    # prepared ("to pickup") or collected the goods have left the shelf: SHIPPED (imported as a
    # record if first seen then, never shipped by the shop). A collection that never happened is
    # a cancellation: the stock comes back.
    "pickup_to_prepare": OrderStatus.UNSHIPPED,
    "to_pickup": OrderStatus.SHIPPED,
    "pickup_completed": OrderStatus.SHIPPED,
    "pickup_canceled": OrderStatus.CANCELLED,
}
# a line of a live order whose own status says it will never ship: left out of the shop order
DROPPED_LINE_STATUSES = ("canceled", "refused")
SHIPPED_LINE_STATUSES = ("shipped", "closed", "to_pickup", "pickup_completed")
MARKETPLACE_DELIVERED = "is_delivered_by_marketplace"


def _no_error(action: dict[str, Any]) -> bool:
    """Lengow's ``errors`` is null or "" when the action went through, a message otherwise."""
    return not action.get("errors")


def _error_text(action: dict[str, Any]) -> str:
    errors = action.get("errors")
    return "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)


def _line_key(action: dict[str, Any]) -> str | None:
    line = action.get("line")
    return str(line) if line not in (None, "") else None


def marketplace_delivered(raw: dict[str, Any]) -> bool:
    """Whether the order carries Lengow's "delivered by the marketplace" type (FBA, Cdiscount
    Fulfilment...): the marketplace ships it from its own stock."""
    types = raw.get("order_types")
    return isinstance(types, list) and any(isinstance(t, dict) and t.get("type") == MARKETPLACE_DELIVERED for t in types)


class LengowChannel:
    """Orders of one marketplace (``amazon_fr``, ``cdiscount``...) of one Lengow account.

    :param hook: a :class:`~ordersync.channel_hooks.LengowHook` (token and account id).
    :param lengow_marketplace: Lengow's code of the marketplace.
    :param tracking_url: template of a parcel's tracking URL (``{tracking_number}``,
        ``{carrier}``), for marketplaces that want ``tracking_url`` with a ship action.
    """

    name = "lengow"
    # the marketplace's own order id, whatever its marketplace's format: printable, no spaces
    order_id_pattern = r"[!-~]{1,64}"
    waiting_statuses: tuple[str, ...] = ("waiting_acceptance",)

    def __init__(self, hook: Any, lengow_marketplace: str, country: str, page_size: int = 100,
                 tracking_url: str | None = None):
        self.hook, self.lengow_marketplace, self.country = hook, lengow_marketplace, country
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.tracking_url = tracking_url
        self._marketplace: dict[str, Any] | None = None  # GET /v3.0/marketplaces, once per instance

    # -- lookup ----------------------------------------------------------------------------

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """Any bound is accepted (no Amazon-style "two minutes ago" rule): the window as asked."""
        return window

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Iterator[list[StagedOrder]]:
        """This marketplace's orders updated in ``window``, every status. Lengow has no
        fulfilment filter: with ``fulfilment`` the other orders are dropped here."""
        for page in self._listing({"updated_from": iso(window.start), "updated_to": iso(window.end)}):
            yield [o for o in page if fulfilment is None or o.fulfillment == fulfilment.value]

    def open_pages(self, since: datetime) -> Iterator[list[StagedOrder]]:
        """Orders still to ship, updated since ``since`` (onboarding).

        choice: by ``updated_from``, not ``marketplace_order_date_from``: real orders may have no
        ``marketplace_order_date`` and a filter on it would never list them, while every order
        placed since ``since`` was also updated since then. Only open statuses are listed, so
        onboarding never imports (and takes stock for) orders shipped long ago."""
        for status in OPEN_STATUSES:
            yield from self._listing({"updated_from": iso(since), "lengow_status": status})

    def waiting_pages(self) -> Iterator[list[StagedOrder]]:
        """Every order of this marketplace waiting for acceptance (updated in the last
        :data:`WAITING_LOOKBACK`): one listed late still gets its answer."""
        since = datetime.now(timezone.utc) - WAITING_LOOKBACK
        yield from self._listing({"lengow_status": self.waiting_statuses[0], "updated_from": iso(since)})

    def _listing(self, filters: dict[str, Any]) -> Iterator[list[StagedOrder]]:
        """``GET /v3.0/orders`` of this account and marketplace with ``filters``, page by page."""
        params = {"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace, **filters}
        for results in self._paged(ORDERS, params):
            yield [self.stage(raw) for raw in results]

    def _paged(self, endpoint: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Lengow listing: follows ``next`` until it is null."""
        page = 1
        while True:
            body = self.hook.call("GET", endpoint, params={**params, "page": page, "page_size": self.page_size}).json()
            if not isinstance(body, dict):
                raise MarketplaceRequestError(200, "unexpected_answer", f"GET {endpoint} did not answer a page: {str(body)[:200]}")
            results = body.get("results") or []
            results = results if isinstance(results, list) else [results]  # non-objects kept (unreadable)
            yield results
            following = body.get("next")
            if not following or not results:
                return
            page = _page_of(following, page)

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        """Named orders, by ``marketplace_order_id`` over the last :data:`FETCH_LOOKBACK`."""
        found, missing = [], []
        since = iso(datetime.now(timezone.utc) - FETCH_LOOKBACK)
        for order_id in order_ids:
            match = None
            params = {"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace,
                      "marketplace_order_id": order_id, "updated_from": since}
            for results in self._paged(ORDERS, params):
                match = next((r for r in results if isinstance(r, dict) and str(r.get("marketplace_order_id")) == order_id
                              and r.get("marketplace") in (None, self.lengow_marketplace)), None)
                if match is not None:
                    break
            if match is None:
                missing.append(order_id)
            else:
                found.append(self.stage(match))
        return found, missing

    @stage_safely("marketplace_order_id")
    def stage(self, raw: dict[str, Any]) -> StagedOrder:
        try:
            updated = self._updated(raw)
        except InvalidOrder:
            updated = datetime.now(timezone.utc)
        cart = [i for p in raw.get("packages") or [] if isinstance(p, dict) for i in p.get("cart") or [] if isinstance(i, dict)]

        def quantity(i):
            return i.get("quantity") if isinstance(i.get("quantity"), int) else 0

        return StagedOrder(
            order_id=str(raw.get("marketplace_order_id") or ""),
            status=str(raw.get("lengow_status") or "UNKNOWN")[:32],
            fulfillment=(Fulfillment.MARKETPLACE if marketplace_delivered(raw) else Fulfillment.MERCHANT).value,
            last_updated=updated,
            payload=raw,
            grid={
                "store_name": f"Lengow {self.lengow_marketplace}",
                "purchase_date": attempt(lambda: self._purchase_date(raw)),
                "total": attempt(lambda: self.parse(raw).total),
                "currency": _currency(raw),
                "items_shipped": sum(quantity(i) for i in cart if i.get("lengow_status") in SHIPPED_LINE_STATUSES),
                "items_unshipped": sum(quantity(i) for i in cart if i.get("lengow_status") not in SHIPPED_LINE_STATUSES),
            },
        )

    # -- import ----------------------------------------------------------------------------

    @read_safely
    def parse(self, raw: dict[str, Any]) -> MarketplaceOrder:
        order_id = raw.get("marketplace_order_id")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrder("marketplace_order_id is missing")
        raw_status = raw.get("lengow_status")
        if raw_status not in STATUSES:
            raise InvalidOrder(f"unknown lengow_status {quoted(raw_status)}")
        status = STATUSES[raw_status]
        packages = [p for p in raw.get("packages") or [] if isinstance(p, dict)]
        items = [i for p in packages for i in p.get("cart") or []]
        if not items:
            raise InvalidOrder("packages[].cart is missing or empty")
        lines = [self._line(item, i) for i, item in enumerate(items)]
        if status is not OrderStatus.CANCELLED:
            live = [line for line, item in zip(lines, items, strict=True) if item.get("lengow_status") not in DROPPED_LINE_STATUSES]
            lines = live or lines  # every line cancelled but not the order: the order's status decides
        delivery = next((p["delivery"] for p in packages if isinstance(p.get("delivery"), dict)), None)
        billing = mapping(raw.get("billing_address"))
        contact = mapping(raw.get("contact_address"))
        buyer = _person(billing) or _person(contact) or (_person(delivery) if delivery else None)
        return MarketplaceOrder(
            marketplace=self.name,
            country=self.country,
            order_id=order_id,
            status=status,
            fulfillment=Fulfillment.MARKETPLACE if marketplace_delivered(raw) else Fulfillment.MERCHANT,
            purchase_date=self._purchase_date(raw),
            last_updated=self._updated(raw),
            currency=_currency(raw),
            total=self._total(raw, lines),
            lines=tuple(lines),
            buyer_name=buyer,
            buyer_email=billing.get("email") or contact.get("email") or (delivery or {}).get("email") or None,
            ship_to=self._address(delivery, raw) if delivery else None,
            raw_status=raw_status,
        )

    @staticmethod
    def _purchase_date(raw: dict[str, Any]) -> datetime:
        """``marketplace_order_date``; real orders often have none, then Lengow's ``imported_at``."""
        if raw.get("marketplace_order_date") is not None:
            return parse_time(raw["marketplace_order_date"], "marketplace_order_date")
        if raw.get("imported_at") is not None:
            return parse_time(raw["imported_at"], "imported_at")
        raise InvalidOrder("marketplace_order_date and imported_at are both empty: the order has no date")

    @staticmethod
    def _updated(raw: dict[str, Any]) -> datetime:
        if raw.get("updated_at") is not None:
            return parse_time(raw["updated_at"], "updated_at")
        if raw.get("imported_at") is not None:
            return parse_time(raw["imported_at"], "imported_at")
        raise InvalidOrder("updated_at and imported_at are both empty")

    @staticmethod
    def _total(raw: dict[str, Any], lines: list[OrderLine]) -> Decimal:
        """``total_order``; when it is null or negative (Lengow sends -1 when it does not know it),
        the lines' amounts plus ``shipping`` (null counts as nothing)."""
        value = raw.get("total_order")
        if value is not None:
            total = decimal_amount(value, "total_order")
            if total >= 0:
                return total
        shipping = raw.get("shipping")
        extra = decimal_amount(shipping, "shipping") if shipping is not None else Decimal("0")
        return sum((line.unit_price * line.quantity for line in lines), Decimal("0")) + extra

    @staticmethod
    def _line(item: Any, index: int) -> OrderLine:
        where = f"cart[{index}]"
        if not isinstance(item, dict) or not item.get("marketplace_order_line_id"):
            raise InvalidOrder(f"{where}.marketplace_order_line_id is missing")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(f"{where}.quantity is not an integer: {quoted(quantity)}")
        amount = decimal_amount(item.get("amount"), f"{where}.amount")  # Lengow's amount is the line total
        merchant = mapping(item.get("merchant_product_id"))
        # Lengow could not tie the line to a product of the merchant's feed: the marketplace's own
        # product id is then the shop's reference (Lengow's plugins match on it the same way)
        sku = merchant.get("id") or item.get("marketplace_product_id")
        return OrderLine(
            line_id=str(item["marketplace_order_line_id"]),
            sku=str(sku) if sku not in (None, "") else None,
            asin=None,
            title=item.get("title") or "",
            quantity=quantity,  # <= 0 is rejected by the rules with reason invalid_value
            unit_price=(amount / quantity).quantize(Decimal("0.01")) if quantity > 0 else amount,
            quantity_shipped=quantity if item.get("lengow_status") in SHIPPED_LINE_STATUSES else 0,
        )

    @staticmethod
    def _address(raw: dict[str, Any], order: dict[str, Any]) -> Address:
        return Address(
            name=_person(raw) or "",
            line1=raw.get("first_line") or raw.get("full_address") or "",
            line2=" ".join(filter(None, (raw.get("second_line"), raw.get("complement")))) or None,
            city=raw.get("city") or "",
            postal_code=raw.get("zipcode") or "",
            country_code=raw.get("common_country_iso_a2") or order.get("marketplace_country_iso2") or "",
            phone=raw.get("phone_mobile") or raw.get("phone_home") or raw.get("phone_office"),
        )

    # -- what the marketplace wants with an action ----------------------------------------

    def marketplace(self) -> dict[str, Any]:
        """This marketplace's entry of ``GET /v3.0/marketplaces``, read once per channel instance."""
        if self._marketplace is None:
            body = self.hook.call("GET", MARKETPLACES, params={"account_id": self.hook.account_id()}).json()
            found = body.get(self.lengow_marketplace) if isinstance(body, dict) else None
            if not isinstance(found, dict):
                raise MarketplaceRequestError(
                    404, "unknown_marketplace",
                    f"Lengow lists no marketplace {self.lengow_marketplace!r} for this account: check lengow_marketplace",
                )
            self._marketplace = found
        return self._marketplace

    def _action_spec(self, action_type: str) -> dict[str, Any] | None:
        actions = (self.marketplace().get("orders") or {}).get("actions") or {}
        spec = actions.get(action_type)
        return spec if isinstance(spec, dict) else None

    def carrier_code(self, carrier_code: str | None, carrier_name: str | None) -> str | None:
        """The marketplace's carrier code for the shop's carrier: the mapped code or the shop
        carrier's name, matched case-insensitively on a code or a label; None when neither is."""
        carriers = (self.marketplace().get("orders") or {}).get("carriers") or {}
        for wanted in (carrier_code, carrier_name):
            if not wanted:
                continue
            for code, about in carriers.items():
                label = about.get("label") if isinstance(about, dict) else None
                if wanted.strip().lower() in (str(code).lower(), str(label or "").lower()):
                    return str(code)
        return None

    def _requests(self, action_type: str, line_ids: Iterable[str] | None, values: dict[str, Any],
                  shop_carrier: str | None = None) -> list[dict[str, Any]]:
        """The bodies of one action: one per line where the marketplace requires ``line``, else
        one for the order; every required argument filled from ``values`` or a
        ``MarketplaceRequestError`` (nothing is sent)."""
        spec = self._action_spec(action_type)
        if spec is None:
            if action_type == "cancel":
                raise UnsupportedAction(f"Lengow marketplace {self.lengow_marketplace} has no cancel action")
            raise MarketplaceRequestError(
                400, "unsupported_action", f"Lengow marketplace {self.lengow_marketplace} has no {action_type} action"
            )
        required = [str(a) for a in spec.get("args") or []]
        optional = [str(a) for a in spec.get("optional_args") or []]
        fields: dict[str, Any] = {}
        for arg in required + optional:
            if arg == "line":
                continue
            value = values.get(arg)
            if value in (None, ""):
                if arg in required:
                    raise MarketplaceRequestError(400, "missing_argument", self._missing(action_type, arg, shop_carrier))
                continue
            fields[arg] = value
        if "line" not in required:
            return [fields]
        lines = list(dict.fromkeys(str(i) for i in line_ids or ()))
        if not lines:
            raise MarketplaceRequestError(
                400, "missing_argument",
                f"line: Lengow marketplace {self.lengow_marketplace} wants one {action_type} action per order line and none is known",
            )
        return [{**fields, "line": line} for line in lines]

    def _missing(self, action_type: str, arg: str, shop_carrier: str | None) -> str:
        where = f"Lengow marketplace {self.lengow_marketplace} requires {arg} with a {action_type} action"
        if arg == "carrier":
            carriers = (self.marketplace().get("orders") or {}).get("carriers") or {}
            return f"carrier: {where}, and the shop carrier {shop_carrier!r} is none of its carriers ({', '.join(sorted(carriers))}): map it in carrier_map"
        if arg == "tracking_url":
            return f"tracking_url: {where}; set the entry's tracking_url template"
        return f"{arg}: {where}, and ordersync has no value for it"

    # -- actions ---------------------------------------------------------------------------

    def queued(self, order_id: str, action_type: str) -> list[dict[str, Any]]:
        """Actions of this type Lengow already holds for the order (every line), oldest first."""
        params = {"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace,
                  "marketplace_order_id": order_id, "action_type": action_type}
        rows = [a for page in self._paged(ACTIONS, params) for a in page
                if isinstance(a, dict) and a.get("marketplace") in (None, self.lengow_marketplace)
                and str(a.get("marketplace_order_id", order_id)) == order_id
                and a.get("action_type", action_type) == action_type]
        return sorted(rows, key=lambda a: (str(a.get("created_at") or ""), str(a.get("id") or "")))

    @staticmethod
    def _covered(body: dict[str, Any], actions: list[dict[str, Any]]) -> bool:
        """Whether Lengow already holds this request without error: an action for the whole
        order, or for the same line (and, for a shipment, the same tracking number)."""
        for action in actions:
            if not _no_error(action):
                continue
            line = _line_key(action)
            if line is not None and line != body.get("line"):
                continue
            theirs, ours = action.get("tracking_number"), body.get("tracking_number")
            if theirs and ours and str(theirs).strip().lower() != str(ours).strip().lower():
                continue  # another parcel of the same order
            return True
        return False

    def _act(self, order_id: str, action_type: str, bodies: list[dict[str, Any]]) -> None:
        """Queue the action's requests Lengow does not hold yet.

        A POST is never repeated blindly: after a 5xx or a lost answer the queue is read again
        first, so each request is queued once."""
        base = {"account_id": self.hook.account_id(), "marketplace": self.lengow_marketplace,
                "marketplace_order_id": order_id, "action_type": action_type}
        held = self.queued(order_id, action_type)
        for body in bodies:
            if self._covered(body, held):
                continue
            self.hook.send_once(
                "POST", ACTIONS, json={**base, **body},
                # an answer lost on the way: the queue tells whether Lengow took it
                already_done=lambda body=body: self._covered(body, self.queued(order_id, action_type)),
            )

    def _order_lines(self, order_id: str) -> list[str]:
        """The order's line ids as Lengow has them now (for per-line actions named by order id)."""
        staged, _ = self.fetch([order_id])
        if not staged:
            return []
        try:
            return [line.line_id for line in self.parse(staged[0].payload).lines]
        except InvalidOrder:
            return []

    def _all_covered(self, order_id: str, kinds: tuple[str, ...], per_line: bool) -> bool:
        """Whether Lengow holds error-free actions of these kinds covering the order: one for the
        whole order, or one for every line where the marketplace acts per line."""
        ok = [a for kind in kinds for a in self.queued(order_id, kind) if _no_error(a)]
        if any(_line_key(a) is None for a in ok):
            return True
        if not per_line or not ok:
            return False
        lines = self._order_lines(order_id)
        return bool(lines) and {_line_key(a) for a in ok} >= set(lines)

    def _per_line(self, action_type: str) -> bool:
        spec = self._action_spec(action_type) or {}
        return "line" in (spec.get("args") or [])

    def answer(self, order: MarketplaceOrder, decision: str) -> None:
        kind = "accept" if decision == "accept" else "refuse"
        self._act(order.order_id, kind, self._requests(kind, [line.line_id for line in order.lines], {}))

    def answered(self, order_id: str) -> bool:
        return self._all_covered(order_id, ("accept", "refuse"), self._per_line("accept"))

    def answer_failed(self, order_id: str) -> str | None:
        """Lengow's message when an answer (of a line) failed and nothing replaced it (the
        marketplace did not acknowledge it in time), else None."""
        return _failure([a for kind in ("accept", "refuse") for a in self.queued(order_id, kind)])

    def cancel(self, order_id: str) -> None:
        lines = self._order_lines(order_id) if self._per_line("cancel") else None
        self._act(order_id, "cancel", self._requests("cancel", lines, {}))

    def confirm_shipment(self, shipment: Shipment, carrier_code: str, carrier_name: str | None) -> None:
        """One parcel: a ship action for the order, or one per line of the parcel."""
        carriers = (self.marketplace().get("orders") or {}).get("carriers") or {}
        # a marketplace that lists carriers takes one of its codes; one that lists none, a name
        carrier = self.carrier_code(carrier_code, carrier_name) if carriers else (carrier_name or carrier_code)
        url = None
        if self.tracking_url:
            url = self.tracking_url.format(tracking_number=shipment.tracking_number, carrier=carrier or carrier_name or carrier_code)
        values = {
            "tracking_number": shipment.tracking_number,
            "carrier": carrier,
            "tracking_url": url,
            "shipping_date": iso(shipment.ship_date),
        }
        bodies = self._requests("ship", [line_id for line_id, _ in shipment.items], values, carrier_name or carrier_code)
        self._act(shipment.order_id, "ship", bodies)

    def package_confirmed(self, shipment: Shipment) -> bool:
        """Whether Lengow holds error-free ship actions covering the order (every line where the
        marketplace ships per line). False is always safe: a resend posts only what is missing."""
        return self._all_covered(shipment.order_id, ("ship",), self._per_line("ship"))

    def acknowledgements(self, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Of these orders' ship actions: orders whose every action (every line) the marketplace
        acknowledged, and orders where one failed (Lengow's ``errors``), with the message."""
        done, failed = [], {}
        for order_id in order_ids:
            actions = self.queued(order_id, "ship")
            message = _failure(actions)
            if message:
                failed[order_id] = message
            elif actions and all(a.get("processed") for a in _latest_per_line(actions).values()):
                done.append(order_id)
        return done, failed


def _latest_per_line(actions: list[dict[str, Any]]) -> dict[tuple[str | None, str], dict[str, Any]]:
    """The action that decides each line (and parcel): the last error-free one, else the last
    one; ``actions`` oldest first."""
    out: dict[tuple[str | None, str], dict[str, Any]] = {}
    for action in actions:
        key = (_line_key(action), str(action.get("tracking_number") or "").strip().lower())
        kept = out.get(key)
        if kept is None or not (_no_error(kept) and not _no_error(action)):
            out[key] = action
    return out


def _failure(actions: list[dict[str, Any]]) -> str | None:
    """The message of a line (or the order) whose every action failed, else None."""
    messages = []
    for (line, _), action in _latest_per_line(actions).items():
        if not _no_error(action):
            messages.append((f"line {line}: " if line else "") + _error_text(action))
    return "; ".join(messages) or None


def _currency(raw: dict[str, Any]) -> str:
    currency = raw.get("currency")
    code = currency.get("iso_a3") if isinstance(currency, dict) else currency
    return str(code) if isinstance(code, str) and code else "EUR"


def _person(raw: dict[str, Any] | None) -> str | None:
    if not raw:
        return None
    return " ".join(filter(None, (raw.get("first_name"), raw.get("last_name")))) or raw.get("company") or None


def _page_of(url: str, current: int) -> int:
    """The page ``next`` points to (Lengow sends a full URL), at least the one after ``current``."""
    try:
        wanted = int(parse_qs(urlparse(str(url)).query).get("page", [""])[0])
    except ValueError:
        wanted = 0
    return wanted if wanted > current else current + 1
