"""Payload parsing shared by every channel: one error type, times, amounts, tolerant reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")


class InvalidOrder(ValueError):
    """The payload cannot become an order; the message says which field and why."""


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidOrder(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOrder(f"{field} is not an ISO 8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidOrder(f"{field} has no time zone: {value!r}")
    return parsed.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_amount(value: Any, field: str) -> Decimal:
    """A finite decimal from a number or a numeric string, else :class:`InvalidOrder`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise InvalidOrder(f"{field} is not an amount: {value!r}") from None
    if not amount.is_finite():
        raise InvalidOrder(f"{field} is not a finite amount: {value!r}")
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
