"""Channel-neutral order model.

Every channel adapter turns its API's payloads into these objects and the import rules and the
shop store only ever see these, so adding a marketplace never touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any


class OrderStatus(str, Enum):
    """Marketplace-side status, normalised across channels."""

    PENDING = "PENDING"  # placed, payment not confirmed: reserve, do not import
    UNSHIPPED = "UNSHIPPED"  # importable, waiting for the merchant to ship
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    WAITING_ACCEPTANCE = "WAITING_ACCEPTANCE"  # accept-first channels only
    # the marketplace still holds it (being created, accepted but payment not checked): it waits,
    # neither answered nor imported, and moves no stock until released
    AWAITING_RELEASE = "AWAITING_RELEASE"
    OTHER = "OTHER"


class Fulfillment(str, Enum):
    MERCHANT = "MERCHANT"  # we ship (Amazon MFN)
    MARKETPLACE = "MARKETPLACE"  # the marketplace ships (Amazon FBA / AFN)


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end) in UTC that a lookup reads."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError(f"window ends before it starts: {self.start} > {self.end}")


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country_code: str
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class OrderLine:
    line_id: str  # marketplace's order item id: confirmations refer to it
    sku: str | None
    asin: str | None
    title: str
    quantity: int
    unit_price: Decimal
    quantity_shipped: int = 0


@dataclass(frozen=True)
class MarketplaceOrder:
    marketplace: str  # channel name: "amazon", "cdiscount", "lengow"
    country: str  # entry country, e.g. "IT"
    order_id: str  # marketplace order id
    status: OrderStatus
    fulfillment: Fulfillment
    purchase_date: datetime
    last_updated: datetime
    currency: str
    total: Decimal
    lines: tuple[OrderLine, ...]
    buyer_name: str | None = None
    buyer_email: str | None = None
    ship_to: Address | None = None
    latest_ship_date: datetime | None = None
    is_prime: bool = False
    service_level: str | None = None
    raw_status: str | None = None  # the marketplace's own word, shown in the order grid
    buyer_tax_id: str | None = None  # DNI / fiscal code when the marketplace sends one

    @property
    def is_fba(self) -> bool:
        return self.fulfillment is Fulfillment.MARKETPLACE


@dataclass(frozen=True)
class Rejection:
    """Why an order could not be imported; kept in the not-imported list and retried later."""

    order_id: str
    reason: str  # stable code, e.g. "no_matching_product", "invalid_payload"
    message: str  # for a human: what to fix


@dataclass(frozen=True)
class Shipment:
    """One package the shop shipped, to confirm to the marketplace."""

    order_id: str  # marketplace order id
    package_ref: str
    carrier: str
    tracking_number: str
    ship_date: datetime
    items: tuple[tuple[str, int], ...] = field(default_factory=tuple)  # (line_id, quantity)
    shipping_method: str | None = None


@dataclass(frozen=True)
class StagedOrder:
    """One order as lookup saw it: its key fields plus the raw payload, kept verbatim."""

    order_id: str
    status: str
    fulfillment: str
    last_updated: datetime
    payload: dict[str, Any]
    # order grid columns (store_name, buyer_name, purchase_date, latest_ship_date, total,
    # currency, is_prime, items_shipped, items_unshipped): whatever the channel can tell cheaply
    grid: dict[str, Any] = field(default_factory=dict)
