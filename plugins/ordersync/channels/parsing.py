"""Payload parsing shared by every channel: one error type, times, amounts, tolerant reads."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ordersync.model import MarketplaceOrder, StagedOrder

T = TypeVar("T")


class InvalidOrder(ValueError):
    """The payload cannot become an order; the message says which field and why."""


QUOTE_LIMIT = 24


def quoted(value: Any) -> str:
    """A payload value named in a reason, kept short: the reason lands in the not-imported list, the
    log and the report, and a hostile payload must not fill them (or carry a buyer field along)."""
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__} of {len(value)}"  # containers are never quoted: they may hold anything
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else f"{text[:QUOTE_LIMIT - 4]}... ({len(text)} chars)"


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidOrder(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOrder(f"{field} is not an ISO 8601 date: {quoted(value)}") from None
    if parsed.tzinfo is None:
        raise InvalidOrder(f"{field} has no time zone: {quoted(value)}")
    return parsed.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_amount(value: Any, field: str) -> Decimal:
    """A finite decimal from a number or a numeric string, else :class:`InvalidOrder`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise InvalidOrder(f"{field} is not an amount: {quoted(value)}") from None
    if not amount.is_finite():
        raise InvalidOrder(f"{field} is not a finite amount: {quoted(value)}")
    return amount


def attempt(read: Callable[[], T]) -> T | None:
    """``read()``, or None when the payload does not have it: order grid columns never fail staging."""
    try:
        return read()
    except (InvalidOrder, TypeError, ValueError, AttributeError, KeyError, ArithmeticError):
        return None


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when the payload has an object there, else an empty one (read what is there)."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """``value`` when the payload has a list there, else an empty one."""
    return value if isinstance(value, list) else []


# -- one rule wherever a payload is read: one bad order never stops a page ---------------------

UNREADABLE_PREFIX = "unreadable-"


def unreadable_key(raw: Any) -> str:
    """A stable inbox key for an order without a readable id, derived from its raw payload."""
    text = json.dumps(raw, sort_keys=True, default=str)
    return UNREADABLE_PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def as_invalid(exc: Exception, field: str | None = None) -> InvalidOrder:
    """Any error reading one order as :class:`InvalidOrder`; an unexpected one is named by its
    type only, never by the value (it may be buyer data)."""
    if isinstance(exc, InvalidOrder):
        return exc
    return InvalidOrder(f"{field or 'payload'}: {type(exc).__name__}")


def read_safely(parse: Callable[[Any, Any], MarketplaceOrder]) -> Callable[[Any, Any], MarketplaceOrder]:
    """A channel's ``parse`` that raises :class:`InvalidOrder` only, and only returns orders whose
    fields have the model's types (a number where a title should be is refused, not written)."""

    @functools.wraps(parse)
    def wrapper(self: Any, raw: Any) -> MarketplaceOrder:
        if not isinstance(raw, dict):
            raise InvalidOrder("payload: the order is not a JSON object")
        try:
            order = parse(self, raw)
            check_types(order)
        except Exception as exc:
            raise as_invalid(exc) from None
        return order

    return wrapper


def stage_safely(id_key: str) -> Callable[[Callable[[Any, Any], StagedOrder]], Callable[[Any, Any], StagedOrder]]:
    """A channel's ``stage`` that never raises for one order: what could be read, else the id
    (``id_key`` of the payload) and the payload alone; a non-object entry is kept too."""

    def decorate(stage: Callable[[Any, Any], StagedOrder]) -> Callable[[Any, Any], StagedOrder]:
        @functools.wraps(stage)
        def wrapper(self: Any, raw: Any) -> StagedOrder:
            if isinstance(raw, dict):
                try:
                    return stage(self, raw)
                except Exception:  # noqa: BLE001 - judged at import, with the field named
                    pass
                order_id = raw.get(id_key)
                payload = raw
            else:
                order_id, payload = None, {"unreadable_entry": raw}
            return StagedOrder(
                order_id=order_id if isinstance(order_id, str) else str(order_id) if isinstance(order_id, int) else "",
                status="UNKNOWN",
                fulfillment="MERCHANT",
                last_updated=datetime.now(timezone.utc),
                payload=payload,
            )

        return wrapper

    return decorate


def _check(value: Any, kinds: tuple[type, ...], field: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise InvalidOrder(f"{field}: {type(value).__name__} instead of {kinds[0].__name__}")


def check_types(order: MarketplaceOrder) -> None:
    """Every field of a parsed order has the model's type, else :class:`InvalidOrder` naming it."""
    if _plainly_typed(order):
        return
    _check_each(order)


def _plainly_typed(order: MarketplaceOrder) -> bool:
    """The common case in one expression: every field of exactly its type (a subclass, or a
    wrong type, goes through :func:`_check_each`, which accepts the one and names the other)."""
    o, a = order, order.ship_to
    return (
        type(o.order_id) is str and type(o.currency) is str and type(o.total) is Decimal
        and type(o.purchase_date) is datetime and type(o.last_updated) is datetime
        and (o.latest_ship_date is None or type(o.latest_ship_date) is datetime)
        and all(v is None or type(v) is str for v in (o.buyer_name, o.buyer_email, o.service_level, o.raw_status, o.buyer_tax_id))
        and type(o.lines) is tuple and len(o.lines) > 0
        and all(
            type(x.line_id) is str and (x.sku is None or type(x.sku) is str) and (x.asin is None or type(x.asin) is str)
            and type(x.title) is str and type(x.quantity) is int and type(x.quantity_shipped) is int
            and type(x.unit_price) is Decimal
            for x in o.lines
        )
        and (a is None or (
            type(a.name) is str and type(a.line1) is str and type(a.city) is str and type(a.postal_code) is str
            and type(a.country_code) is str
            and all(v is None or type(v) is str for v in (a.line2, a.region, a.phone))))
    )


def _check_each(order: MarketplaceOrder) -> None:
    _check(order.order_id, (str,), "order id")
    _check(order.currency, (str,), "currency")
    _check(order.total, (Decimal,), "total")
    _check(order.purchase_date, (datetime,), "purchase date")
    _check(order.last_updated, (datetime,), "last updated")
    _check(order.latest_ship_date, (datetime,), "latest ship date", optional=True)
    for name in ("buyer_name", "buyer_email", "service_level", "raw_status", "buyer_tax_id"):
        _check(getattr(order, name), (str,), name.replace("_", " "), optional=True)
    if not isinstance(order.lines, tuple) or not order.lines:
        raise InvalidOrder("lines: none")
    for i, line in enumerate(order.lines):
        where = f"line {i + 1}"
        _check(line.line_id, (str,), f"{where} id")
        _check(line.sku, (str,), f"{where} sku", optional=True)
        _check(line.asin, (str,), f"{where} asin", optional=True)
        _check(line.title, (str,), f"{where} title")
        _check(line.quantity, (int,), f"{where} quantity")
        _check(line.quantity_shipped, (int,), f"{where} quantity shipped")
        _check(line.unit_price, (Decimal,), f"{where} unit price")
    address = order.ship_to
    if address is not None:
        for name in ("name", "line1", "city", "postal_code", "country_code"):
            _check(getattr(address, name), (str,), f"ship-to {name.replace('_', ' ')}")
        for name in ("line2", "region", "phone"):
            _check(getattr(address, name), (str,), f"ship-to {name}", optional=True)
