"""DAG validity: the DAG folder loads with no import errors and every entry has its task chain."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ordersync.config import load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_enabled_entry(dagbag):
    expected = {e.dag_id for e in load_config().enabled}
    assert {"ordersync_amazon_it", "ordersync_amazon_fr"} <= expected
    assert set(dagbag.dag_ids) == expected | {"ordersync_actions", "ordersync_recovery", "ordersync_reconciliation"}


def test_recovery_dag_groups_each_entry_and_summarises_whatever_fails(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("ordersync_recovery")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)  # daily windows, backfillable
    config = load_config()
    for entry in config.enabled:
        ids = {t.task_id for t in dag.tasks if t.task_id.startswith(entry.key + ".")}
        expected = {f"{entry.key}.doublecheck"} | ({f"{entry.key}.recheck"} if entry.import_fba else set())
        assert ids == expected
    summary = dag.get_task("summary")
    assert summary.trigger_rule == "all_done" and [a.name for a in summary.outlets] == ["ordersync_orders_recovered"]
    assert len(summary.upstream_task_ids) == len(dag.tasks) - 1


def test_manual_actions_dag_offers_every_entry_and_action(dagbag):
    from ordersync.steps import MANUAL_ACTIONS

    dag = dagbag.get_dag("ordersync_actions")
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual runs only
    assert set(dag.params.get_param("entry").schema["enum"]) == {e.key for e in load_config().enabled}
    assert tuple(dag.params.get_param("action").schema["enum"]) == MANUAL_ACTIONS
    assert "order_ids" in dag.params and [t.task_id for t in dag.tasks] == ["action"]


@pytest.mark.parametrize("dag_id", [e.dag_id for e in load_config().enabled])
def test_task_chain_and_schedule(dagbag, dag_id):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag(dag_id)
    chain = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert chain == {"lookup": ["accept"], "accept": ["import"], "import": ["fulfillment"], "fulfillment": []}
    assert isinstance(dag.timetable, CronDataIntervalTimetable)  # real windows, not zero-width
    assert dag.catchup is False and dag.max_active_runs == 1
    assert "ordersync" in dag.tags and dag.doc_md
    assert "lookback_hours" in dag.params
    entry = next(e for e in load_config().enabled if e.dag_id == dag_id)
    assert {(t.retries, t.retry_delay) for t in dag.tasks} == {(entry.retries, entry.retry_delay)}


def test_dag_file_does_no_heavy_work_at_parse_time():
    """Parsing imports no HTTP client, no pandas and no adapter or store module of ours."""
    code = textwrap.dedent(
        f"""
        import runpy, sys
        import airflow.sdk, airflow.timetables.interval  # what any DAG file pays anyway
        before = set(sys.modules)
        runpy.run_path({str(REPO / "dags" / "ordersync_dags.py")!r})
        added = set(sys.modules) - before
        heavy = sorted(m for m in added if m.startswith(("ordersync.shop", "ordersync.channels",
                       "ordersync.hooks", "ordersync.steps", "pandas", "requests", "httpx", "sqlalchemy")))
        print(",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([""], []), out.stdout


def test_a_bad_entry_loses_its_dag_only_and_shows_as_an_import_error(airflow_db, tmp_path, monkeypatch):
    bad = tmp_path / "marketplaces.yaml"
    bad.write_text(
        "entries:\n"
        "  - {marketplace: amazon, country: IT, conn_id: x, schedul: '@daily'}\n"
        "  - {marketplace: amazon, country: FR, conn_id: x}\n"
    )
    monkeypatch.setenv("ORDERSYNC_CONFIG", str(bad))
    monkeypatch.delenv("ORDERSYNC_STRICT_CONFIG")  # the default: lenient
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    [(file, message)] = bag.import_errors.items()
    assert file.endswith("ordersync_config_check.py")
    assert str(bad) in message and "entry #1 (amazon_it)" in message and "'schedul'" in message
    assert "ordersync_amazon_fr" in bag.dag_ids and "ordersync_amazon_it" not in bag.dag_ids
    # CI's strict mode: the whole file fails
    monkeypatch.setenv("ORDERSYNC_STRICT_CONFIG", "1")
    strict = DagBag(str(REPO / "dags"))
    assert any(f.endswith("ordersync_dags.py") for f in strict.import_errors)
    assert "ordersync_amazon_fr" not in strict.dag_ids


def test_marketplace_tasks_share_one_pool_per_seller_and_region(dagbag):
    from ordersync.pools import pools

    config = load_config()
    plan = pools(config)
    eu = [e for e in config.enabled if e.conn_id == "amazon_eu"]
    assert len(eu) >= 2 and {"ordersync_amazon_eu_eu_read", "ordersync_amazon_eu_eu_confirm"} <= set(plan)
    assert plan["ordersync_amazon_eu_eu_read"]["slots"] == 2  # searchOrders burst 20 // 10 requests a task
    assert plan["ordersync_amazon_eu_eu_confirm"]["slots"] == 5  # confirmShipment burst 10 // 2 a task
    for entry in eu:
        dag = dagbag.get_dag(entry.dag_id)
        # a lookup sleeping on the limiter holds a reading slot, never one import or fulfillment needs
        assert {t.task_id: t.pool for t in dag.tasks} == {
            "lookup": "ordersync_amazon_eu_eu_read", "accept": "ordersync_amazon_eu_eu_confirm",
            "import": "ordersync_amazon_eu_eu_confirm", "fulfillment": "ordersync_amazon_eu_eu_confirm"}


def test_two_hundred_entries_load_without_errors(airflow_db, tmp_path, monkeypatch):
    """A 200-entry config (18 Amazon countries x seller accounts) loads: every DAG, no import error.

    Parse time is measured by ``make bench BENCH=parse``, not asserted here (machines differ).
    """
    from airflow.dag_processing.dagbag import DagBag

    from tests.helpers.configs import write_config

    config = write_config(tmp_path / "marketplaces.yaml", 200)
    monkeypatch.setenv("ORDERSYNC_CONFIG", str(config))
    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    entries = {e.dag_id for e in load_config(config).enabled}
    assert len(entries) == 200
    assert set(bag.dag_ids) == entries | {"ordersync_actions", "ordersync_recovery", "ordersync_reconciliation"}
    assert all(len(bag.get_dag(d).tasks) == 4 for d in entries)
    assert len(bag.get_dag("ordersync_recovery").tasks) >= 201  # a doublecheck per entry + summary


def test_two_hundred_entries_import_nothing_heavy(tmp_path):
    from tests.helpers.configs import write_config

    config = write_config(tmp_path / "marketplaces.yaml", 200)
    code = textwrap.dedent(
        f"""
        import os, runpy, sys
        os.environ["ORDERSYNC_CONFIG"] = {str(config)!r}
        import airflow.sdk, airflow.timetables.interval
        before = set(sys.modules)
        dags = runpy.run_path({str(REPO / "dags" / "ordersync_dags.py")!r})
        added = set(sys.modules) - before
        heavy = sorted(m for m in added if m.startswith(("ordersync.shop", "ordersync.channels", "ordersync.hooks",
                       "ordersync.steps", "pandas", "requests", "httpx", "urllib3", "sqlalchemy")))
        print(sum(1 for k in dags if k.startswith("ordersync_amazon_")), ",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, _, heavy = out.stdout.strip().splitlines()[-1].partition(" ")
    assert int(count) == 200 and heavy == "", out.stdout


def test_a_task_process_builds_only_its_own_dag(tmp_path):
    """Airflow's parsing context names the DAG a task runs: the file builds that one only."""
    from tests.helpers.configs import write_config

    config = write_config(tmp_path / "marketplaces.yaml", 200)
    code = textwrap.dedent(
        """
        import runpy
        from airflow.sdk import DAG
        names = {k for k, v in runpy.run_path(%r).items() if isinstance(v, DAG)}
        print(len(names), sorted(names)[:3])
        """ % str(REPO / "dags" / "ordersync_dags.py")
    )
    env = {**os.environ, "ORDERSYNC_CONFIG": str(config)}
    entry = load_config(config).enabled[7].dag_id
    counts = {}
    for dag_id in (None, entry, "ordersync_recovery", "no_such_dag"):
        run_env = {**env, **({"_AIRFLOW_PARSING_CONTEXT_DAG_ID": dag_id} if dag_id else {})}
        out = subprocess.run([sys.executable, "-c", code], env=run_env, capture_output=True, text=True, check=True)
        counts[dag_id] = out.stdout.strip().splitlines()[-1]
    assert counts[None].startswith("203 ")  # the dag-processor: every entry + actions, recovery, reconciliation
    assert counts[entry] == f"1 ['{entry}']"
    assert counts["ordersync_recovery"] == "1 ['ordersync_recovery']"
    assert counts["no_such_dag"].startswith("203 ")
