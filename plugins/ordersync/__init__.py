"""ordersync: keep marketplace orders and the shop's order database in sync, run by Airflow."""

__version__ = "0.1.0"
