"""The shop database's SQLAlchemy URL from an Airflow connection."""

from __future__ import annotations

import os

from airflow.sdk import BaseHook


class ShopDatabaseHook(BaseHook):
    """The shop database's SQLAlchemy URL from an Airflow connection.

    A connection of type ``postgres`` or ``mysql`` is turned into a URL with the psycopg or
    PyMySQL driver; ``extra.sqlalchemy_url`` wins when set. With no such connection the shop
    database is SQLite at ``$AIRFLOW_HOME/ordersync_shop.db`` (the embedded default).

    :param shop_conn_id: the Airflow connection id.
    """

    conn_name_attr = "shop_conn_id"
    default_conn_name = "ordersync_shop"
    conn_type = "generic"
    hook_name = "ordersync shop database"

    def __init__(self, shop_conn_id: str = default_conn_name):
        super().__init__()
        self.shop_conn_id = shop_conn_id

    def get_url(self) -> str:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.shop_conn_id)
        except AirflowNotFoundException:
            return default_shop_url()  # only a missing connection means "the embedded default"
        return connection_url(conn)


def default_shop_url() -> str:
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return f"sqlite:///{os.path.join(home, 'ordersync_shop.db')}"


def connection_url(conn) -> str:
    """SQLAlchemy URL for an Airflow connection object (postgres, mysql, sqlite or explicit)."""
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    kind = (conn.conn_type or "").lower()
    drivers = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    if kind in drivers:
        return URL.create(
            drivers[kind],
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    if kind == "sqlite":
        return f"sqlite:///{conn.host}"
    raise ValueError(
        f"connection {conn.conn_id!r}: type {conn.conn_type!r} is not a shop database; "
        "use postgres, mysql or sqlite, or set extra.sqlalchemy_url"
    )
