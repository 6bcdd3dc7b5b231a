"""What every shop module shares: the clock, tokens, insert-or-ignore, and the base of the store.

:class:`StoreBase` holds the engine and the transaction helpers; the concept modules (inbox,
orders, stock, shipments, runs) add their reads and writes to it and
:class:`ordersync.shop.store.ShopStore` puts them together.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Self

from sqlalchemy import ARRAY, ColumnElement, Connection, Engine, Table, any_, func, literal, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ordersync.shop import schema as t
from ordersync.shop.engine import make_engine

RETRYABLE = ("deadlock", "lock wait timeout", "database is locked", "could not serialize")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_token() -> str:
    """A unique batch or claim token: rows written under it are known to be this call's."""
    return str(uuid.uuid4())


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert, silently skipping rows that hit a unique key.

    Drivers disagree on rowcount for bulk inserts (psycopg reports 0, MariaDB counts matched
    duplicates), so callers that need to know what they created tag rows with a batch token.
    """
    if not rows:
        return
    name = conn.dialect.name
    stmt: Any  # each dialect's own Insert construct
    if name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    elif name in ("mysql", "mariadb"):
        pk = table.primary_key.columns.values()[0]
        # a no-op update (not INSERT IGNORE, which would also swallow truncation errors)
        stmt = mysql.insert(table).on_duplicate_key_update({pk.name: pk})
    else:  # pragma: no cover - other dialects are not supported
        raise NotImplementedError(f"shop database dialect {name!r} is not supported")
    conn.execute(stmt, list(rows))


def among(conn: Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one bound array whatever the count
    (an IN list renders and parses one parameter per value: the import's batches hold hundreds)."""
    values = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


class StoreBase:
    """The engine and its transactions; one instance per engine, safe to share in a task."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(make_engine(url))

    def migrate(self) -> None:
        """Bring the schema to the package's latest Alembic revision (no-op when current)."""
        from ordersync.shop.migrate import ensure_current

        ensure_current(self.engine)

    def transaction(self, fn, *args, **kwargs):
        """Run ``fn(conn, ...)`` in a transaction, again on a deadlock (MariaDB, PostgreSQL); its result.

        Every write of the store and of its helper modules goes through here: any transaction can
        be a deadlock's victim beside concurrent imports (MariaDB's gap locks), and each of them is
        safe to redo whole."""
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    return fn(conn, *args, **kwargs)
            except DBAPIError as exc:
                text = str(exc.orig).lower()
                if attempt == 4 or not any(word in text for word in RETRYABLE):
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def count(self, table: str, **where: Any) -> int:
        """Row count of a shop table, optionally filtered by equality (tests and summaries)."""
        tbl = t.metadata.tables[table]
        query = select(func.count()).select_from(tbl)
        for key, value in where.items():
            query = query.where(tbl.c[key] == value)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()
