"""Channel-neutral order model.

Every channel adapter turns its API's payloads into these objects and the import rules and the
shop store only ever see these, so adding a marketplace never touches the store. The values the
rules hand to the store (import and reservation plans) and the store hands back (inbox rows, write
results, shipments to send) live here too, so the pure rules never import the store.
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


# -- what the rules decide and the shop store reads and writes ---------------------------------


@dataclass(frozen=True)
class InboxRow:
    """A staged order as import (or accept) reads it back from the inbox."""

    order_id: str
    status: str
    payload: dict[str, Any]
    state: str = "new"


@dataclass(frozen=True)
class ImportPlan:
    """An order the rules accepted, with the shop product of each line (same order as lines)."""

    order: MarketplaceOrder
    customer_key: str
    customer_email: str | None
    product_ids: tuple[int | None, ...]
    moves_stock: bool
    status: str  # shop status to give the new order
    payment_status: str | None = None
    carrier: str | None = None  # shop carrier from the entry's import carrier map
    line_names: tuple[str, ...] = ()  # defaults to the marketplace titles
    flags: tuple[str, ...] = ()  # e.g. stock_short, product_inactive
    tax_id: str | None = None


@dataclass(frozen=True)
class ReservationPlan:
    """A pending order's lines to reserve: (order line, product id, product stock now)."""

    order: MarketplaceOrder
    lines: tuple[tuple[OrderLine, int, int], ...]


@dataclass
class StageCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class WriteResult:
    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    stock_moves: int = 0  # sale moves created
    converted: int = 0  # reservations that became the order's sale


@dataclass
class CancelResult:
    cancelled: list[str] = field(default_factory=list)
    stock_moves: int = 0  # restoring moves created


@dataclass(frozen=True)
class ShipmentToSend:
    """A package to confirm to the marketplace, as the shop store lists it for fulfillment."""

    order_pk: int
    order_id: str
    package_ref: str
    carrier: str | None
    tracking_number: str
    shipped_at: datetime | None
    lines: tuple[tuple[str, int], ...]
    in_doubt: bool  # an earlier attempt may have reached the marketplace
    claimed_by: str | None = None  # the stale claim seen, for compare-and-set
    shipping_method: str | None = None
