"""Airflow plugin module: the "Order sync" page of the ordersync package (ordersync.web).

Kept thin on purpose: plugins/.airflowignore keeps the plugin manager out of the ordersync
package itself, so this file is what the plugin manager finds in the plugins folder.
"""

from ordersync.web.plugin import OrderSyncPlugin

__all__ = ["OrderSyncPlugin"]
