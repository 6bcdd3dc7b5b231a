"""ordersync as an Airflow provider: the connection types the Connections page offers.

Airflow finds :func:`get_provider_info` through the ``apache_airflow_provider`` entry point of
the installed package (``pip install .``). Fields are declared here (``conn-fields``,
``ui-field-behaviour``), not in the hooks: Airflow 3.2+ reads them without importing any hook,
and the hooks' own ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` are deprecated.
Extra fields are stored in the connection's extra under their own names, which is what the hooks read.
"""

from __future__ import annotations

from typing import Any

from ordersync import __version__

RETRY_FIELDS: dict[str, Any] = {
    "max_retries": {
        "label": "Retries of one call",
        "description": "How many times one call rides out 5xx and network errors before the task fails (default 5)",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "backoff": {
        "label": "First backoff (seconds)",
        "description": "First wait between retries, doubling up to 60 s (default 1)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
}


def _secret(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], "format": "password"}}


def _text(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}


CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "connection-type": "amazon_sp_api",
        "hook-class-name": "ordersync.hooks.amazon.AmazonSpApiHook",
        "hook-name": "Amazon Selling Partner API (ordersync)",
        "conn-fields": {
            "refresh_token": _secret("LWA refresh token", "Given when the seller authorises the app (Atzr|...)"),
            "region": _text("Region", "NA, EU or FE: picks Amazon's endpoint when Host is empty", enum=["NA", "EU", "FE", None]),
            "lwa_url": _text("Token endpoint", "Login with Amazon token URL (default https://api.amazon.com/auth/o2/token)"),
            "rate_limit": {
                "label": "Pace to the usage plans",
                "description": "Pace requests to Amazon's published usage plans (default on)",
                "schema": {"type": ["boolean", "null"]},
            },
            "rate_scale": {
                "label": "Usage plan scale",
                "description": "Multiplies the plans: only for a time-scaled sandbox",
                "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
            },
            **RETRY_FIELDS,
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"login": "LWA client id", "password": "LWA client secret", "host": "SP-API endpoint"},
            "placeholders": {
                "host": "empty: the region's endpoint (https://sellingpartnerapi-eu.amazon.com)",
                "login": "amzn1.application-oa2-client....",
                "region": "EU",
            },
        },
    },
    {
        "connection-type": "octopia",
        "hook-class-name": "ordersync.hooks.octopia.OctopiaHook",
        "hook-name": "Cdiscount / Octopia seller API (ordersync)",
        "conn-fields": {
            "seller_id": _text("Seller id", "Sent as the SellerId header of every call"),
            "token_url": _text("Token endpoint", "Octopia's OpenID token URL (client credentials)"),
            **RETRY_FIELDS,
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"login": "Client id", "password": "Client secret", "host": "API base URL"},
            "placeholders": {
                "host": "https://api.octopia-io.net/seller/v2",
                "token_url": "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token",
            },
        },
    },
    {
        "connection-type": "lengow",
        "hook-class-name": "ordersync.hooks.lengow.LengowHook",
        "hook-name": "Lengow API (ordersync)",
        "conn-fields": {**RETRY_FIELDS},
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"login": "Access token", "password": "Secret", "host": "API base URL"},
            "placeholders": {"host": "https://api.lengow.io"},
        },
    },
    {
        "connection-type": "ordersync_shop",
        "hook-class-name": "ordersync.hooks.shop.ShopDatabaseHook",
        "hook-name": "ordersync shop database",
        "conn-fields": {
            "dialect": _text("Database", "postgresql, mysql (MariaDB too) or sqlite", enum=["postgresql", "mysql", "sqlite", None]),
            "sqlalchemy_url": _secret("SQLAlchemy URL", "Overrides every other field when set"),
        },
        "ui-field-behaviour": {
            "hidden-fields": [],
            "relabeling": {"schema": "Database name", "host": "Host (sqlite: file path)"},
            "placeholders": {"host": "db.example.com or /srv/shop.db", "schema": "shop", "dialect": "postgresql"},
        },
    },
]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "ordersync",
        "name": "ordersync",
        "description": "Marketplace orders (Amazon, Cdiscount/Octopia, Lengow) kept in sync with a shop database",
        "versions": [__version__],
        "connection-types": CONNECTION_TYPES,
    }
