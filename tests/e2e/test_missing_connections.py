"""A connection the config names but Airflow lacks fails the task, names it, and writes nothing:
there is no fallback shop database (it would take orders the real shop never sees)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.e2e.test_amazon_dag import run_dag
from tests.helpers.sandbox import sandbox_connections

pytestmark = pytest.mark.e2e


def _shop_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and "shop" in p.name]


def test_missing_shop_connection_fails_the_task_and_writes_nothing(airflow_db, sandbox_server, capfd):
    conns = sandbox_connections(sandbox_server.url)
    for key, value in conns.items():
        os.environ[key] = json.dumps(value)
    os.environ.pop("AIRFLOW_CONN_ORDERSYNC_SHOP", None)
    home = Path(os.environ["AIRFLOW_HOME"])
    before = _shop_files(home)
    try:
        state, xcom = run_dag(datetime.now(timezone.utc), "ordersync_amazon_it")
    finally:
        for key in conns:
            os.environ.pop(key, None)
    assert state == "failed" and "lookup" not in xcom
    out = capfd.readouterr()
    assert "shop database connection 'ordersync_shop' does not exist" in out.out + out.err
    assert _shop_files(home) == before  # no SQLite file appeared anywhere under AIRFLOW_HOME
