"""The Airflow plugin: mounts the Order sync app and puts the page in the UI's navigation.

Registered twice on purpose, and Airflow keeps one (same plugin name): by ``plugins/ordersync_ui.py``
for the copied-folders layout this repository runs, and by the ``airflow.plugins`` entry point of
the installed package (``pip install .``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ordersync.web.api import app

URL_PREFIX = "/ordersync"


class OrderSyncPlugin(AirflowPlugin):
    name = "ordersync"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "ordersync Order sync page"}]
    # url_route: the UI shows the page inside its own frame at /plugin/order-sync, with the nav
    external_views = [{
        "name": "Order sync",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "url_route": "order-sync",
        "category": None,
    }]
