"""Hostile input checked before it is written: the same limits on SQLite, PostgreSQL and MariaDB.

SQLite stores a 300-character city or quantity 2**31 without a word; PostgreSQL and MariaDB fail
the whole page's transaction. The limits are the shop schema's column lengths (read from
:mod:`ordersync.shop.schema`, never repeated) and sanity bounds on amounts, quantities and dates:

- ids (order id, line id, SKU) longer than their column: refused (``invalid_value``);
- free text (names, addresses, titles, city...): truncated to the column, order flagged ``truncated``;
- NUL bytes and unencodable characters: stripped from every text;
- currency: three uppercase letters; quantities 1..:data:`MAX_QUANTITY`; amounts finite, not
  negative, below :data:`MAX_AMOUNT`: else refused;
- purchase date from 2000 to now + 1 day, else refused; a last update after now + 1 day is
  clamped to now (a far-future time would freeze the staged order against real updates);
- line ids unique within an order, else refused naming the duplicate.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import String

from ordersync.channels.parsing import UNREADABLE_PREFIX, unreadable_key
from ordersync.model import MarketplaceOrder, OrderLine, Rejection, StagedOrder
from ordersync.shop import schema as t

MAX_QUANTITY = 100_000
MAX_AMOUNT = Decimal("1e10")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)
_CURRENCY = re.compile(r"[A-Z]{3}")
_INT_MAX = 2**31 - 1


def length(column: Any) -> int:
    """A String column's length, from the schema."""
    return int(column.type.length)


ORDER_ID = length(t.orders.c.marketplace_order_id)
LINE_ID = length(t.order_lines.c.line_id)
SKU = length(t.order_lines.c.sku)


def clean(text: str) -> str:
    """NUL bytes stripped and anything UTF-8 cannot carry (lone surrogates) replaced."""
    if text.isascii():  # the common case, and it is O(1): ASCII always encodes
        return text.replace("\x00", "") if "\x00" in text else text
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def readable_id(order_id: Any, limit: int = ORDER_ID) -> bool:
    return isinstance(order_id, str) and 0 < len(order_id) <= limit and clean(order_id) == order_id and order_id.strip() == order_id


# -- staging -----------------------------------------------------------------------------------

_INBOX_NAMES = frozenset(c.name for c in t.inbox.columns)
_INBOX_LENGTHS = {c.name: length(c) for c in t.inbox.columns if isinstance(c.type, String) and c.type.length}
_LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def admit_staged(staged: StagedOrder, now: datetime) -> StagedOrder:
    """A staged order every engine stores: a key that fits (``unreadable-<digest>`` when the
    marketplace's id cannot be used), texts cut to their columns, a last update never after now
    (a clamped time, so the staged copy never freezes), grid values out of range left empty."""
    order_id = staged.order_id
    if not readable_id(order_id) or order_id.startswith(UNREADABLE_PREFIX):
        order_id = unreadable_key(staged.payload)
    updated = staged.last_updated
    if updated > now + FUTURE_SLACK:
        updated = now
    elif updated < EARLIEST:
        updated = EARLIEST
    grid = {name: _grid_value(name, value) for name, value in staged.grid.items()}
    return replace(
        staged,
        order_id=order_id,
        status=clean(str(staged.status))[: _INBOX_LENGTHS["marketplace_status"]] or "UNKNOWN",
        fulfillment=clean(str(staged.fulfillment))[: _INBOX_LENGTHS["fulfillment"]],
        last_updated=updated,
        grid=grid,
    )


def _grid_value(name: str, value: Any) -> Any:
    if value is None or name not in _INBOX_NAMES:
        return None
    if name == "currency":
        return value if isinstance(value, str) and _CURRENCY.fullmatch(value) else None
    if name == "total":
        return value if isinstance(value, Decimal) and value.is_finite() and abs(value) < MAX_AMOUNT else None
    if name == "is_prime":
        return bool(value)
    if isinstance(value, datetime):
        return value if EARLIEST <= value <= _LATEST else None
    if isinstance(value, bool) or isinstance(value, int):
        return int(value) if 0 <= value <= _INT_MAX else None
    if isinstance(value, str):
        return clean(value)[: _INBOX_LENGTHS[name]] or None
    return None


# -- import ------------------------------------------------------------------------------------

_ORDERS = t.orders.c
_TEXT = {  # order field -> the length of the column it is written to (the shortest when it goes to two)
    "buyer_name": length(t.customers.c.name),
    "buyer_email": length(t.customers.c.email),
    "service_level": length(_ORDERS.service_level),
    "raw_status": length(_ORDERS.marketplace_status),
    "buyer_tax_id": length(t.customers.c.tax_id),
}
_ADDRESS = {
    name: length(column) for name, column in (
        ("name", _ORDERS.ship_name), ("line1", _ORDERS.ship_line1), ("line2", _ORDERS.ship_line2),
        ("city", _ORDERS.ship_city), ("postal_code", _ORDERS.ship_postal_code), ("region", _ORDERS.ship_region),
        ("country_code", _ORDERS.ship_country), ("phone", _ORDERS.ship_phone))
}
_TITLE = length(t.order_lines.c.name)
_ASIN = length(t.order_lines.c.asin)


def check_order(order: MarketplaceOrder, now: datetime) -> tuple[MarketplaceOrder, tuple[str, ...]] | Rejection:
    """The order as it can be written on every engine, with its flags, or why it cannot be.

    Messages name the field and the limit, never the value (it may be buyer data).
    """

    def refuse(message: str) -> Rejection:
        return Rejection(order.order_id, "invalid_value", message)

    if not readable_id(order.order_id):
        return refuse(f"order id: empty, not printable or longer than {ORDER_ID} characters")
    if not _CURRENCY.fullmatch(order.currency):
        return refuse("currency: not a three-letter ISO 4217 code")
    if not EARLIEST <= order.purchase_date <= now + FUTURE_SLACK:
        return refuse("purchase date: before 2000 or in the future")
    problem = _amount(order.total, "total")
    if problem:
        return refuse(problem)
    seen: set[str] = set()
    truncated = False
    lines = []
    for i, line in enumerate(order.lines):
        checked = _check_line(line, i, seen)
        if isinstance(checked, str):
            return refuse(checked)
        lines.append(checked[0])
        truncated |= checked[1]
    # only what changed is replaced: most orders come through as they are
    changes: dict[str, Any] = {}
    if any(new is not old for new, old in zip(lines, order.lines, strict=True)):
        changes["lines"] = tuple(lines)
    for name, limit in _TEXT.items():
        value = getattr(order, name)
        if value is not None:
            fitted, cut = _fit(value, limit)
            truncated |= cut
            if fitted is not value:
                changes[name] = fitted
    if order.ship_to is not None:
        address: dict[str, Any] = {}
        for name, limit in _ADDRESS.items():
            value = getattr(order.ship_to, name)
            if value is not None:
                fitted, cut = _fit(value, limit)
                truncated |= cut
                if fitted is not value:
                    address[name] = fitted
        if address:
            changes["ship_to"] = replace(order.ship_to, **address)
    if order.last_updated > now + FUTURE_SLACK:
        changes["last_updated"] = now
    elif order.last_updated < EARLIEST:
        changes["last_updated"] = order.purchase_date
    if order.latest_ship_date is not None and not EARLIEST <= order.latest_ship_date <= now + timedelta(days=366):
        changes["latest_ship_date"] = None
    return (replace(order, **changes) if changes else order), (("truncated",) if truncated else ())


def _check_line(line: OrderLine, index: int, seen: set[str]) -> tuple[OrderLine, bool] | str:
    """The line as it can be written and whether text was cut, or what is wrong with it."""
    where = f"line {index + 1}"
    if not readable_id(line.line_id, LINE_ID):
        return f"{where} id: empty, not printable or longer than {LINE_ID} characters"
    if line.line_id in seen:
        return f"duplicate line id {line.line_id}"
    seen.add(line.line_id)
    if line.sku is not None and not readable_id(line.sku, SKU):
        return f"{where} sku: empty, not printable or longer than {SKU} characters"
    if not 0 <= line.quantity <= MAX_QUANTITY:  # 0 (cancelled lines): the import rules decide
        return f"{where} quantity: outside 0..{MAX_QUANTITY}"
    if not 0 <= line.quantity_shipped <= MAX_QUANTITY:
        return f"{where} quantity shipped: outside 0..{MAX_QUANTITY}"
    problem = _amount(line.unit_price, f"{where} unit price")
    if problem:
        return problem
    title, cut = _fit(line.title, _TITLE)
    asin = line.asin
    if asin is not None and not readable_id(asin, _ASIN):
        asin, cut = None, True
    if title is line.title and asin is line.asin:
        return line, cut
    return replace(line, title=title, asin=asin), cut


def _amount(value: Decimal, field: str) -> str | None:
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        return f"{field}: not a finite amount below {MAX_AMOUNT:,.0f}"
    if value < 0:
        return f"{field}: negative"
    return None


def _fit(text: str, limit: int) -> tuple[str, bool]:
    """The text cleaned and cut to ``limit`` characters (its column's); whether anything was cut."""
    cleaned = clean(text)
    if len(cleaned) > limit:
        return cleaned[:limit], True
    return cleaned, False
