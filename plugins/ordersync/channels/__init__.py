"""Marketplace adapters: one module per API, each turning API pages into model objects and model
actions (accept, confirm shipment) into API calls, all behind :mod:`ordersync.channels.contract`.

:func:`build_channel` is the one place a channel is made: the operators, the demo and the tests
all go through it, so every channel gets its hook the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ordersync.channels.contract import Channel
    from ordersync.config import Entry
    from ordersync.shop.store import ShopStore


def build_channel(entry: Entry, store: ShopStore | None = None) -> Channel:
    """The adapter of ``entry`` with its hook. ``store`` holds the shared usage-plan buckets
    (Amazon paces every task of a seller and region through the shop database)."""
    if entry.marketplace == "amazon":
        from ordersync.channels.amazon import AmazonChannel
        from ordersync.hooks.amazon import AmazonSpApiHook
        from ordersync.marketplaces import amazon_marketplace
        from ordersync.ratelimit import DatabaseBuckets

        state = DatabaseBuckets(store.engine) if store is not None else None
        hook = AmazonSpApiHook(entry.conn_id, region=amazon_marketplace(entry.country).region, limiter_state=state)
        return AmazonChannel(hook, entry.country, entry.page_size)
    if entry.marketplace == "cdiscount":
        from ordersync.hooks.octopia import OctopiaHook
        from ordersync.channels.cdiscount import CdiscountChannel

        return CdiscountChannel(
            OctopiaHook(entry.conn_id), entry.country, entry.page_size, entry.tracking_url, entry.sales_channel
        )
    if entry.marketplace == "lengow":
        from ordersync.hooks.lengow import LengowHook
        from ordersync.channels.lengow import LengowChannel
        from ordersync.config import ConfigError

        if entry.lengow_marketplace is None:  # config validation requires it; say so if bypassed
            raise ConfigError(f"{entry.key}: a lengow entry needs lengow_marketplace")
        return LengowChannel(LengowHook(entry.conn_id), entry.lengow_marketplace, entry.country, entry.page_size,
                             tracking_url=entry.tracking_url)
    raise ValueError(f"no channel for marketplace {entry.marketplace!r}")
