"""Airflow assets the sync tasks emit, so the reconciliation runs once the data it reads changed."""

from __future__ import annotations

from airflow.sdk import Asset

# emitted by every import task: shop orders changed
ORDERS_IMPORTED = Asset(name="ordersync_orders_imported", uri="ordersync://shop/orders")
# emitted by the daily recovery DAG once every entry was rechecked
ORDERS_RECOVERED = Asset(name="ordersync_orders_recovered", uri="ordersync://shop/recovery")
