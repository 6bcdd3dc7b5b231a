"""The PII scan: after a demo-sized run with injected database errors, nothing a person or a log
shipper can read holds a buyer's name, e-mail, phone or street, nor a secret.

What is read: everything the run printed (a worker's task logs), Airflow's log folder, every
table of the metadata database but the connections (XComs, rendered fields, run confs, the audit
log, task notes) and the reconciliation reports. What is looked for: each staged order's buyer
fields, as the channels read them from the payloads the marketplaces sent, and the connections'
secrets and access tokens. Runs on SQLite and PostgreSQL shops.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ordersync.channels import build_channel
from ordersync.config import load_config
from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore
from tests.helpers.sandbox import REPO, sandbox_connections, start_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.services]

# tables whose job is to hold secrets (encrypted when a Fernet key is set): not scanned
SECRET_STORES = {"connection", "variable"}
TOKEN_SHAPES = re.compile(r"Atza\|[\w-]{8,}|Bearer [\w.-]{8,}")
SHORTEST = 6  # shorter values ("Rossi" alone) match too much unrelated text to mean a leak


def buyer_values(store: ShopStore) -> set[str]:
    """Every buyer field of every staged order, read by its channel."""
    entries = {(e.marketplace, e.country): e for e in load_config().enabled}
    values: set[str] = set()
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.inbox.c.marketplace, t.inbox.c.country, t.inbox.c.payload)).all()
    for marketplace, country, payload in rows:
        try:
            order = build_channel(entries[(marketplace, country)]).parse(json.loads(payload))
        except Exception:  # noqa: BLE001 - set aside orders are looked for through the others
            continue
        address = order.ship_to
        found = [order.buyer_name, order.buyer_email, order.buyer_tax_id,
                 *((address.name, address.line1, address.line2, address.phone) if address else ())]
        values |= {v.strip() for v in found if v and len(v.strip()) >= SHORTEST}
    return values


def secrets_of(connections: dict) -> set[str]:
    found = set()
    for fields in connections.values():
        found.add(fields.get("password"))
        found |= {str(v) for k, v in (fields.get("extra") or {}).items() if "token" in k or "secret" in k}
    return {s for s in found if s}


def metadata_text(airflow_home: Path) -> str:
    """The metadata database as SQL text, secret stores left out."""
    db = sqlite3.connect(airflow_home / "airflow.db")
    try:
        return "\n".join(line for line in db.iterdump()
                         if not any(line.startswith(f'INSERT INTO "{name}"') for name in SECRET_STORES))
    finally:
        db.close()


@pytest.mark.parametrize("shop_url", ["sqlite", "postgresql"], indirect=True)
def test_no_buyer_data_or_secret_anywhere_after_a_run_with_database_errors(airflow_db, shop_url, tmp_path):
    reports = tmp_path / "reports"
    config = yaml.safe_load((REPO / "include" / "marketplaces.yaml").read_text())
    config["defaults"]["retries"] = 0  # the injected fault fails at once instead of waiting to retry
    (tmp_path / "marketplaces.yaml").write_text(yaml.safe_dump(config))
    with start_sandbox(seed=11, days=3, orders_per_day=40, countries="IT,FR,DE") as sandbox:
        connections = sandbox_connections(sandbox.url)
        shop = {"conn_type": "ordersync_shop", "extra": {"sqlalchemy_url": shop_url}}
        env = {**os.environ, "ORDERSYNC_CONFIG": str(tmp_path / "marketplaces.yaml"), "ORDERSYNC_REPORTS_DIR": str(reports),
               "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO", "AIRFLOW_CONN_ORDERSYNC_SHOP": json.dumps(shop),
               **{k: json.dumps(v) for k, v in connections.items()}}
        done = subprocess.run([sys.executable, "-m", "tests.helpers.demo_run", shop_url, str(tmp_path / "runs.json")],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-4000:]
    states = {(step, dag_id): state for step, dag_id, state in json.loads((tmp_path / "runs.json").read_text())}
    # the fault failed the first imports, on their error path; once healed every run is green
    assert "failed" in {state for (step, _), state in states.items() if step == "faulty"}
    assert "injected fault" in printed
    assert {state for (step, _), state in states.items() if step != "faulty"} == {"success"}, states
    assert list(reports.glob("*.html"))

    assert re.search(r"import \w+ counts: ", printed), "the tasks' own log lines must be among what is scanned"

    store = ShopStore.from_url(shop_url)
    buyers = buyer_values(store)
    with store.engine.connect() as conn:  # the detector finds what is really there: the shop's customers
        customers = "\n".join(f"{name} {email}" for name, email in conn.execute(select(t.customers.c.name, t.customers.c.email)))
    store.engine.dispose()
    assert len(buyers) > 300  # a demo-sized run: hundreds of buyers' fields to look for
    assert sum(1 for v in buyers if v in customers) > 100

    readable = {"task logs (printed)": printed, "metadata database": metadata_text(airflow_db)}
    for folder in (airflow_db / "logs", reports):
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file():
                readable[str(path)] = path.read_text(errors="replace")
    # a failure names where and how many, with each value cut short: the failure is a log too
    leaks = {where: sorted({v[:4] + "..." for v in buyers | secrets_of(connections) if v in text})
             for where, text in readable.items()}
    leaks = {where: found for where, found in leaks.items() if found}
    tokens = {where: len(TOKEN_SHAPES.findall(text)) for where, text in readable.items() if TOKEN_SHAPES.search(text)}
    assert not leaks and not tokens, f"buyer data or secrets readable: {leaks or tokens}"

