"""The shop store: every read and write the sync steps make in the shop database.

:class:`ShopStore` is put together from one class per concept, each in its own module:
:mod:`~ordersync.shop.inbox` (staging, inbox states, not-imported list),
:mod:`~ordersync.shop.orders` (the set-based import, updates, cancellations),
:mod:`~ordersync.shop.stock` (products, reservations, the stock ledger),
:mod:`~ordersync.shop.shipments` (packages and their confirmations, claimed through
:mod:`~ordersync.shop.claims`), :mod:`~ordersync.shop.runs` (sync runs and state) and
:mod:`~ordersync.shop.listings` (region-wide listings' watermarks and locks), on
:class:`~ordersync.shop.db.StoreBase` (engine, transactions, deadlock retries).

Writes are set-based: one bulk statement per table per page, inside one transaction. Duplicates are
stopped by the unique keys in :mod:`ordersync.shop.schema` with insert-or-ignore, and a per-call
batch token tells which rows this call created, so retries, overlapping windows and concurrent runs
report and move stock for an order only once.
"""

from __future__ import annotations

from ordersync.model import StagedOrder
from ordersync.shop.db import utcnow
from ordersync.shop.inbox import Inbox
from ordersync.shop.listings import RegionListings
from ordersync.shop.orders import Orders
from ordersync.shop.runs import Runs
from ordersync.shop.shipments import Shipments
from ordersync.shop.stock import Stock

__all__ = ["ShopStore", "StagedOrder", "utcnow"]  # what callers import from here


class ShopStore(Inbox, Orders, Stock, Shipments, Runs, RegionListings):
    """Reads and writes of the sync steps; one instance per engine, safe to share in a task."""
