"""The shop database's SQLAlchemy URL from an Airflow connection, and its connection test."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from ordersync.errors import MissingConnection

DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


class ShopDatabaseHook(BaseHook):
    """The shop database from an Airflow connection; there is no fallback.

    Connection type ``ordersync_shop`` (``extra.dialect``: postgresql, mysql or sqlite; for sqlite
    ``host`` is the file path), or a ``postgres`` / ``mysql`` / ``sqlite`` connection;
    ``extra.sqlalchemy_url`` wins when set. A missing connection fails the task naming it: orders
    are never written to a file the real shop does not read.

    :param shop_conn_id: the Airflow connection id.
    """

    conn_name_attr = "shop_conn_id"
    default_conn_name = "ordersync_shop"
    conn_type = "ordersync_shop"
    hook_name = "ordersync shop database"

    def __init__(self, shop_conn_id: str = default_conn_name):
        super().__init__()
        self.shop_conn_id = shop_conn_id

    def get_url(self) -> str:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.shop_conn_id)
        except AirflowNotFoundException:
            raise MissingConnection(
                f"shop database connection {self.shop_conn_id!r} does not exist: create it (type ordersync_shop, "
                "postgres, mysql or sqlite) or fix the entry's shop_conn_id; nothing was written"
            ) from None
        return connection_url(conn)

    def test_connection(self) -> tuple[bool, str]:
        """Connect and read the schema version ordersync's migrations left."""
        from sqlalchemy import create_engine, inspect, text

        from ordersync.shop.migrate import VERSION_TABLE

        try:
            engine = create_engine(self.get_url(), hide_parameters=True)
            try:
                with engine.connect() as conn:
                    if not inspect(conn).has_table(VERSION_TABLE):
                        return True, "connected; no ordersync schema yet (python -m ordersync db upgrade creates it)"
                    version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            finally:
                engine.dispose()
        except Exception as exc:  # noqa: BLE001 - the Test button shows what went wrong
            return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        return True, f"connected; ordersync schema at revision {version}"


def connection_url(conn: Any) -> str:
    """SQLAlchemy URL for an Airflow connection object (ordersync_shop, postgres, mysql, sqlite)."""
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    kind = (conn.conn_type or "").lower()
    if kind == "ordersync_shop":
        kind = str(extra.get("dialect") or "").lower()
    if kind in DRIVERS:
        return URL.create(
            DRIVERS[kind],
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    if kind == "sqlite" and conn.host:
        return f"sqlite:///{conn.host}"
    raise MissingConnection(
        f"connection {conn.conn_id!r}: type {conn.conn_type!r} is not a shop database; use type ordersync_shop "
        "with extra.dialect postgresql, mysql or sqlite (host = file path), or set extra.sqlalchemy_url"
    )
