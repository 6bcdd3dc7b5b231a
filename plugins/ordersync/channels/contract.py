"""The channel contract: what the sync steps ask of every marketplace adapter.

Words are the marketplace-neutral ones of :mod:`ordersync.model` (``Fulfillment``, ``Window``,
``MarketplaceOrder``); each adapter maps them to its API. Steps take a :class:`Channel`, and the
accept step an :class:`AcceptFirstChannel`; a channel is built by :func:`ordersync.channels.build_channel`
only, never probed for methods; the steps ask for :class:`RegionChannel` where one listing can
serve every country of a seller account.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from ordersync.model import Fulfillment, MarketplaceOrder, Shipment, StagedOrder, Window

Pages = Iterator[list[StagedOrder]]


@runtime_checkable
class Channel(Protocol):
    """One marketplace x country (x account) as the steps see it."""

    name: str  # "amazon", "cdiscount", "lengow": the shop's marketplace column
    country: str
    order_id_pattern: str  # regular expression of the marketplace's order ids (manual actions check them)

    def clamp(self, window: Window, now: datetime) -> Window | None:
        """The part of ``window`` the marketplace lets us read now; None when nothing yet."""
        ...

    def pages(self, window: Window, *, fulfilment: Fulfillment | None = None) -> Pages:
        """Orders last updated in ``window``, a page at a time, every status (cancellations too).

        ``fulfilment`` keeps only orders shipped by the merchant or by the marketplace (recovery's
        doublecheck and recheck; the shifted FBA re-read). A channel whose API cannot filter lists
        everything and drops the others itself.
        """
        ...

    def open_pages(self, since: datetime) -> Pages:
        """Orders created since ``since`` that are still to ship: a seller's onboarding."""
        ...

    def fetch(self, order_ids: list[str]) -> tuple[list[StagedOrder], list[str]]:
        """Named orders (manual actions), and the ids the marketplace does not know."""
        ...

    def parse(self, raw: dict) -> MarketplaceOrder:
        """A staged payload as an order, or :class:`~ordersync.channels.parsing.InvalidOrder`
        naming the field."""
        ...

    def confirm_shipment(self, shipment: Shipment, carrier_code: str, carrier_name: str | None) -> None:
        """Tell the marketplace one package left; a refusal raises ``MarketplaceRequestError``."""
        ...

    def package_confirmed(self, shipment: Shipment) -> bool:
        """Whether the marketplace already holds this package (an attempt left in doubt); each
        marketplace knows it by what it keeps: a package reference, a parcel number, a line."""
        ...


@runtime_checkable
class AcceptFirstChannel(Channel, Protocol):
    """A marketplace where the seller accepts or refuses each order before it can be shipped.

    Some forward answers and shipments to a marketplace that acknowledges them later (Lengow);
    others take them at once (Octopia), and then ``answer_failed`` is always None and
    ``acknowledgements`` reports everything done.
    """

    waiting_statuses: tuple[str, ...]  # the marketplace's own words for "waiting for acceptance"

    def waiting_pages(self) -> Pages:
        """Every order still waiting for acceptance, whatever its dates."""
        ...

    def answer(self, order: MarketplaceOrder, decision: str) -> None:
        """Send ``accept`` or ``refuse`` for the whole order."""
        ...

    def answered(self, order_id: str) -> bool:
        """Whether the marketplace already holds an answer (an attempt left in doubt)."""
        ...

    def answer_failed(self, order_id: str) -> str | None:
        """The marketplace's message when it never took our answer, else None."""
        ...

    def cancel(self, order_id: str) -> None:
        """The merchant cancels an order he cannot ship; ``UnsupportedAction`` where impossible."""
        ...

    def acknowledgements(self, order_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Of shipments sent for these orders: acknowledged ones, and failed ones with the message."""
        ...


@runtime_checkable
class RegionChannel(Channel, Protocol):
    """A marketplace whose one listing can read several countries of one seller account at once
    (Amazon: ``searchOrders`` takes up to 50 marketplace ids of a region)."""

    unsettled_statuses: tuple[str, ...]  # what ``unsettled_only`` keeps, in the marketplace's words

    def region_pages(
        self,
        window: Window,
        countries: tuple[str, ...],
        *,
        fulfilment: Fulfillment | None = None,
        unsettled_only: bool = False,
    ) -> Iterator[dict[str, list[StagedOrder]]]:
        """Orders of ``countries`` last updated in ``window``, a page at a time, split by country;
        ``unsettled_only`` keeps the orders that can still be missing or whose change the shop
        must still carry (not shipped)."""
        ...
