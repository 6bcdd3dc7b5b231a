"""Shop database schema upgrades with the Alembic migrations shipped in the package."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "ordersync_alembic_version"  # keep in step with migrations/env.py
_LOCK_NAME = "ordersync_shop_migrate"
_LOCK_KEY = 0x6F7264657273  # PostgreSQL advisory lock key ("orders")
# "Context impl SQLiteImpl" and friends are noise in every task log
for _name in ("alembic", "alembic.runtime.migration"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# Alembic's ``context`` is a module global: two threads of one process must not run it at once.
_process_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine_or_conn: Engine | Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

    if isinstance(engine_or_conn, Connection):
        return read(engine_or_conn)
    with engine_or_conn.connect() as conn:
        return read(conn)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # the package ships its revisions: none means a broken install
        raise RuntimeError("ordersync's shop migrations are missing from the package")
    return head


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the shop's migration lock (one migrator at a time).

    PostgreSQL: a transaction-scoped advisory lock. MariaDB: ``GET_LOCK`` (its DDL commits
    implicitly, so the lock must be session-scoped). SQLite: the engine begins with ``BEGIN
    IMMEDIATE``, which already excludes every other writer.
    """
    with _process_lock, engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        elif dialect in ("mysql", "mariadb"):
            if conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": _LOCK_NAME}).scalar() != 1:
                raise TimeoutError("another process has held the shop migration lock for 5 minutes")
        try:
            yield conn
        finally:
            if dialect in ("mysql", "mariadb"):
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _LOCK_NAME})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the shop database to ``revision`` under the migration lock (at head: nothing to do)."""
    with _migration_lock(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the difference between the database and schema.py (developers)."""
    with _migration_lock(engine) as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)


def ensure_current(engine: Engine) -> None:
    """Upgrade to head unless already there.

    Every task calls this, so a new shop database works without a manual step; the cheap read
    first keeps the common case (already at head) free of locks, and the lock makes tasks that
    start together on an empty database wait for the first one instead of failing.
    """
    if current_revision(engine) != head_revision():
        upgrade(engine)
