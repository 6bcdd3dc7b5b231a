"""SQL views of the shop database, defined in queries/views/<name>.sql.

Migrations call :func:`replace_views` whenever a table a view reads changes, so the views always
match the schema. The SQL is portable (SQLite, PostgreSQL, MariaDB): no concatenation operator,
no dialect functions.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ordersync.sql import load_sql

VIEWS = ("v_sync_summary", "v_order_grid", "v_not_shipped")


def drop_views(conn: Connection) -> None:
    for name in VIEWS:
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))


def replace_views(conn: Connection) -> None:
    drop_views(conn)
    for name in VIEWS:
        conn.execute(text(f"CREATE VIEW {name} AS {load_sql('views/' + name).strip().rstrip(';')}"))
