"""Bulk insert-or-ignore at the database's write speed, for the import's batches.

On PostgreSQL an executemany through psycopg 3 is still one server-side INSERT per row; here the
rows are COPied straight into the table inside a savepoint. The callers leave out the keys they
know exist, so a unique violation there means a concurrent writer (or an overlapping run): the
savepoint is rolled back and the rows are COPied into a session temporary table shaped like the
target, then moved with one ``DELETE ... RETURNING`` feeding ``INSERT ... SELECT ... ON CONFLICT
DO NOTHING`` (the staging table is empty again after every statement, or rolled back with the
transaction). Both paths run in the caller's transaction against the same unique keys, so the
exactly-once guarantees are those of :func:`ordersync.shop.db.insert_ignore`. Values go through
the columns' own bind processing (``UtcDateTime`` stays naive UTC) and psycopg's COPY escaping.
SQLite (in process) and MariaDB (PyMySQL already folds an executemany into multi-row INSERTs)
keep :func:`~ordersync.shop.db.insert_ignore`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnDefault, Connection, Table
from sqlalchemy.exc import DBAPIError

from ordersync.shop.db import insert_ignore


def insert_ignore_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int | None:
    """Insert ``rows`` (same keys in each), skipping any that hit a unique key.

    Returns how many rows went in where PostgreSQL says so; None on the other engines, whose
    drivers cannot tell (see :func:`~ordersync.shop.db.insert_ignore`).
    """
    if not rows:
        return 0
    callable_default = any(c.default is not None and not isinstance(c.default, ColumnDefault) or
                           isinstance(c.default, ColumnDefault) and not c.default.is_scalar
                           for c in table.columns if c.name not in rows[0])
    if conn.dialect.name != "postgresql" or callable_default:
        insert_ignore(conn, table, rows)  # SQLAlchemy's path (and any Python-side callable default)
        return None
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in rows[0] and isinstance(c.default, ColumnDefault)}
    given = list(rows[0])
    names = [*given, *defaults]
    tail = [p(v) if p else v for p, v in ((table.c[n].type.bind_processor(conn.dialect), v) for n, v in defaults.items())]
    values = _bound(conn, table, given, rows, tail)
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    columns = ", ".join(quote(n) for n in names)
    import psycopg

    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # psycopg: the COPY protocol
    try:
        try:
            # straight into the table in a savepoint: the callers have already left out the keys they
            # know exist, so a conflict means a concurrent writer; then the rows go the safe way below
            with conn.begin_nested():
                _copy(cursor, target, columns, values)
            return len(values)
        except psycopg.errors.UniqueViolation:
            pass
        # named after the table's columns: a pooled session that outlived a migration never reuses a stale shape
        shape = zlib.crc32(",".join(c.name for c in table.columns).encode())
        staging = quote(f"ordersync_bulk_{table.name}_{shape:08x}")
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT * FROM {target} WITH NO DATA")
        _copy(cursor, staging, columns, values)
        # the DELETE empties the staging table (no truncation at every commit, as ON COMMIT DELETE ROWS would)
        cursor.execute(f"WITH moved AS (DELETE FROM {staging} RETURNING {columns}) "
                       f"INSERT INTO {target} ({columns}) SELECT {columns} FROM moved ON CONFLICT DO NOTHING")
        return int(cursor.rowcount)
    except psycopg.Error as exc:
        # COPY errors quote the offending line: keep only the kind of error (no buyer data), in
        # the words the store's deadlock retry looks for
        kind = {"40P01": "deadlock detected", "40001": "could not serialize access"}.get(exc.sqlstate or "", "rejected")
        state = exc.sqlstate or ""
        # the server's own words where they never quote a value: key and constraint violations,
        # resources (disk full), shutdowns, a trigger's RAISE; data errors (22...) quote the value
        said = exc.diag.message_primary if state[:2] in SAFE_SQLSTATE_CLASSES else None
        raise DBAPIError(f"bulk insert into {table.name}", None,
                         BulkWriteError(f"bulk insert into {table.name} {kind} (SQLSTATE {state})"
                                        + (f": {said}" if said else "")),
                         hide_parameters=True) from None


def _bound(conn: Connection, table: Table, given: list[str], rows: Sequence[dict[str, Any]], tail: list[Any]) -> list[list[Any]]:
    """Each row's values in ``given`` order through their columns' bind processing, then ``tail``.

    The values come out in one C call per row (itemgetter); only the columns with a bind
    processor go through Python, and a value that is the same object as the previous row's (the
    batch's clock, its token) is processed once.
    """
    fetch = itemgetter(*given) if len(given) > 1 else (lambda row: (row[given[0]],))
    values = [[*fetch(row), *tail] for row in rows]
    for i, name in enumerate(given):
        process = table.c[name].type.bind_processor(conn.dialect)
        if process is None:
            continue
        last: Any = object()
        done: Any = None
        for row in values:
            value = row[i]
            if value is not last:
                last, done = value, (None if value is None else process(value))
            row[i] = done
    return values


def _copy(cursor: Any, into: str, columns: str, values: list[list[Any]]) -> None:
    with cursor.copy(f"COPY {into} ({columns}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


SAFE_SQLSTATE_CLASSES = frozenset({"08", "23", "40", "53", "54", "57", "P0"})


class BulkWriteError(Exception):
    """Why the database refused a bulk insert, without the rows."""
