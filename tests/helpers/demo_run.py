"""A demo-sized run of every DAG, in a process of its own, with database faults injected.

``python -m tests.helpers.demo_run SHOP_URL OUT_JSON``: the first pass of every entry's DAG runs
while the shop database refuses new customers (a trigger raises, as a failing constraint or a
full disk would), so import fails on its error path; the second pass runs with the fault gone,
the warehouse ships, a third pass confirms, then the recovery and the reconciliation. Everything
the process prints is what a worker's task log holds; the PII scan reads it, with the metadata
database and the reports. The connections, the config and ORDERSYNC_REPORTS_DIR come from the
environment.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

FAULTS = {
    "sqlite": ["CREATE TRIGGER pii_fault BEFORE INSERT ON customers BEGIN SELECT RAISE(ABORT, 'injected fault'); END"],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION pii_fault() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER pii_fault BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION pii_fault()",
    ],
}
HEALED = {"sqlite": ["DROP TRIGGER pii_fault"], "postgresql": ["DROP TRIGGER pii_fault ON customers"]}


def _execute(store, statements: list[str]) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def main(shop_url: str, out: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from ordersync import demo
    from ordersync.config import load_config
    from ordersync.shop.store import ShopStore

    store = ShopStore.from_url(shop_url)
    store.migrate()
    demo.seed_products(store)
    dialect = store.engine.dialect.name
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    entries = load_config().enabled
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    states: list[tuple[str, str, str]] = []  # (pass, dag id, run state)

    def run(step: str, dag_id: str, when: datetime, conf: dict | None = None) -> None:
        states.append((step, dag_id, str(bag.get_dag(dag_id).test(logical_date=when, run_conf=conf or {}).state)))

    _execute(store, FAULTS[dialect])
    for entry in entries:
        run("faulty", entry.dag_id, now - timedelta(hours=1), {"lookback_hours": 72})
    _execute(store, HEALED[dialect])
    for entry in entries:
        run("healed", entry.dag_id, now - timedelta(minutes=30))
        demo.ship_orders(store, entry, 5)
    for entry in entries:
        run("shipped", entry.dag_id, now)
    run("daily", "ordersync_recovery", now)
    run("daily", "ordersync_reconciliation", now)
    with open(out, "w") as f:
        json.dump(states, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
