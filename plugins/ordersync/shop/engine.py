"""Engines for the shop database, tuned per dialect for safe concurrent writers."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Engine, create_engine, event

# Switching a new database file to WAL takes an exclusive lock, and SQLite answers "database is
# locked" at once (its busy timeout does not apply) when connections open it together.
_WAL_SWITCH_WAIT = 60.0


def _set_wal(dbapi_conn) -> None:
    deadline = time.monotonic() + _WAL_SWITCH_WAIT
    while True:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and write-locking transactions.

    SQLite's default deferred transactions let two writers both read and then fail on upgrade;
    ``BEGIN IMMEDIATE`` makes the second writer wait its turn instead.
    """
    # a rejected write's error text must not carry the statement's parameters (buyer data) into logs
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            _set_wal(dbapi_conn)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)
