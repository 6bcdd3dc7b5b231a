"""Shared fixtures: an isolated Airflow home, shop databases on three engines, the sandbox.

The Airflow environment is set before anything imports Airflow, so tests never touch a user's
``~/airflow`` or the demo's ``.airflow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="ordersync-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "ORDERSYNC_CONFIG": str(REPO / "include" / "marketplaces.yaml"),
        # CI's all-or-nothing config: a test's bad entry fails loudly (tests of the lenient
        # default unset it)
        "ORDERSYNC_STRICT_CONFIG": "1",
    }
)
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)  # it silently changes timetables
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO / "plugins"), str(REPO), os.environ.get("PYTHONPATH")) if p
)

IN_CI = os.environ.get("CI", "").lower() == "true"

SERVICE_URLS = {
    "postgresql": os.environ.get(
        "ORDERSYNC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/ordersync_test"
    ),
    "mariadb": os.environ.get("ORDERSYNC_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/ordersync_test"),
}


def _missing_service(what: str, exc: Exception):
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; CI must test every engine (.ci/run starts the services)")
    pytest.skip(message)


def _ensure_database(url: str) -> None:
    """Create the test database on the server if it is missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(database="postgres" if target.get_backend_name() == "postgresql" else "test")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if target.get_backend_name() == "postgresql":
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
                ).scalar()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{target.database}"'))
            else:
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{target.database}`"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shop_url(request, tmp_path) -> str:
    """A fresh, empty shop database URL on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    url = SERVICE_URLS[request.param]
    try:
        _ensure_database(url)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "service missing"
        _missing_service(request.param, exc)
    from sqlalchemy import create_engine, text

    from ordersync.shop import schema
    from ordersync.shop.migrate import VERSION_TABLE

    from ordersync.shop.views import drop_views

    engine = create_engine(url)
    with engine.begin() as conn:
        drop_views(conn)  # views first: PostgreSQL will not drop the tables under them
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    engine.dispose()
    return url


@pytest.fixture
def store(shop_url):
    from ordersync.shop.store import ShopStore

    store = ShopStore.from_url(shop_url)
    store.migrate()
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An Airflow metadata database (SQLite) in the isolated Airflow home."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _HOME


@pytest.fixture(scope="session")
def sandbox_server():
    """The sandbox marketplace over real HTTP on 127.0.0.1, for the whole session."""
    from tests.helpers.sandbox import start_sandbox

    server = start_sandbox(seed=42, days=3, orders_per_day=30, countries="IT,FR,DE")
    yield server
    server.stop()
