"""Airflow hooks: the only place that reads connections (credentials) and speaks HTTP or SQL URLs.

One module per marketplace over the shared client in :mod:`.client`, and the shop database's.
"""

from ordersync.hooks.amazon import AmazonSpApiHook
from ordersync.hooks.client import MarketplaceHook
from ordersync.hooks.lengow import LengowHook
from ordersync.hooks.octopia import OctopiaHook
from ordersync.hooks.shop import ShopDatabaseHook

__all__ = ["AmazonSpApiHook", "LengowHook", "MarketplaceHook", "OctopiaHook", "ShopDatabaseHook"]
