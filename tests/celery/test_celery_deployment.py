"""The docker-compose shape without Docker: real Airflow processes on CeleryExecutor.

api-server, scheduler, dag-processor and a Celery worker started from the venv, PostgreSQL as the
Airflow metadata DB and (another database) the shop DB, Redis as the Celery broker, the sandbox
marketplace. Scheduled runs, a manual run with params (REST API) and a backfill (CLI) of the DAGs
in ``DAGS``, then: every run succeeded with consistent XCom counts (REST API), nothing was imported
or confirmed twice (shop DB and sandbox), the seller x region pool was never exceeded.

The test config is include/marketplaces.yaml with a daily schedule: with catchup off, unpausing
gives exactly one scheduled run (yesterday), and a backfill of three past days gives three runs
per DAG. The production */30 schedule would make a three-day backfill 144 runs per DAG.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import IN_CI, REPO
from tests.helpers.processes import Processes, bearer_login, free_port

pytestmark = pytest.mark.celery

# DAGs the test drives (config entries of one seller, so they share one pool); another one is one
# more line here. The future ordersync_recovery DAG also needs its own task/XCom expectations below.
DAGS = (
    "ordersync_amazon_it",
    "ordersync_amazon_fr",
)
RECOVERY = "ordersync_recovery"  # daily, all entries: unpaused once the country runs are done
POOLS = ("ordersync_amazon_eu_eu_read", "ordersync_amazon_eu_eu_confirm")  # reading, importing + confirming
BACKFILL_DAYS = 3
SHIPPED_PER_ENTRY = 3
PG = os.environ.get("ORDERSYNC_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("ORDERSYNC_TEST_REDIS", "redis://127.0.0.1:6379/0")
BIN = Path(sys.executable).parent
STEP_TIMEOUT = 240  # seconds any one wait may take; the whole test stays within a few minutes


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _require_services() -> None:
    from urllib.parse import urlsplit

    servers = {"PostgreSQL": urlsplit(PG.replace("+psycopg", "")), "Redis": urlsplit(REDIS)}
    missing = [f"{name} ({url.hostname}:{url.port})" for name, url in servers.items()
               if not _port_open(url.hostname, url.port or {"PostgreSQL": 5432, "Redis": 6379}[name])]
    if missing:
        message = f"{' and '.join(missing)} not reachable"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the Celery test (.ci/run starts the services)")
        pytest.skip(message)


def _admin(*statements: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _recreate_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def _drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(env: dict[str, str], *cmd: str, timeout: float = 180) -> str:
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd[:4])} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _wait(what: str, check, procs: Processes, timeout: float = STEP_TIMEOUT, every: float = 2):
    return procs.wait(what, check, timeout, every)


class Api:
    """REST API v2 with a JWT from POST /auth/token (simple auth manager, password from its file)."""

    def __init__(self, base: str, home: Path):
        self.base, self.http = base, requests.Session()
        self.passwords = home / "simple_auth_manager_passwords.json.generated"

    def login(self) -> bool:
        return bearer_login(self.http, self.base, "admin", json.loads(self.passwords.read_text())["admin"])

    def get(self, path: str, **params):
        r = self.http.get(f"{self.base}/api/v2{path}", params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def send(self, method: str, path: str, body: dict):
        r = self.http.request(method, f"{self.base}/api/v2{path}", json=body, timeout=30)
        assert r.ok, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json()

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    _require_services()
    from tests.helpers.sandbox import sandbox_connections, start_sandbox

    tag = secrets.token_hex(4)
    home = tmp_path_factory.mktemp("celery-airflow")
    # per-run databases: test runs of other worktrees on this server must not collide
    meta_db, shop_db = f"ordersync_celery_meta_{tag}", f"ordersync_celery_shop_{tag}"

    config = yaml.safe_load((REPO / "include" / "marketplaces.yaml").read_text())
    config["defaults"]["schedule"] = "0 0 * * *"  # daily: bounded scheduled and backfill runs
    config_path = home / "marketplaces.yaml"
    config_path.write_text(yaml.safe_dump(config))

    _recreate_database(meta_db)
    _recreate_database(shop_db)
    # Amazon's usage plans enforced, 100x faster: the tasks of both countries pace themselves on
    # the shared buckets in the shop database (rate_scale below), across worker processes
    sandbox = start_sandbox(
        seed=11, days=BACKFILL_DAYS + 2, orders_per_day=12, countries="IT,FR,DE", usage_plans=True, time_scale=100
    )
    api_port = free_port()
    shop_url = f"{PG}/{shop_db}"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(home),
        "ORDERSYNC_CONFIG": str(config_path),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{PG}/{meta_db}",
        # psycopg 3 is async too: Airflow would otherwise want asyncpg for its async engine
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"{PG}/{meta_db}",
        "AIRFLOW__CELERY__BROKER_URL": REDIS,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{PG}/{meta_db}",
        # a queue of our own: other test runs may share this Redis
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"ordersync-test-{tag}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "6",  # more than the pool allows: the pool must hold
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_ORDERSYNC_SHOP": json.dumps({"conn_type": "postgres", "extra": {"sqlalchemy_url": shop_url}}),
        # every channel's connection to the sandbox (the recovery DAG covers all entries)
        **{key: json.dumps(value) for key, value in sandbox_connections(sandbox.url, rate_scale=100).items()},
    }
    procs = Processes(home, env, REPO)
    try:
        # what airflow-init does in docker-compose.yaml
        _run(env, str(BIN / "airflow"), "db", "migrate", timeout=300)
        (home / "pools.json").write_text(_run(env, sys.executable, "-m", "ordersync", "pools"))
        _run(env, str(BIN / "airflow"), "pools", "import", str(home / "pools.json"))
        _run(env, sys.executable, "-m", "ordersync", "db", "upgrade")
        _run(env, sys.executable, "-m", "ordersync", "demo", "seed-products")

        # a password written beforehand: the api-server would otherwise print a generated one to its log
        passwords = home / "simple_auth_manager_passwords.json.generated"
        passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(16)}))
        passwords.chmod(0o600)
        procs.start("api-server", str(BIN / "airflow"), "api-server", "--port", str(api_port), "--host", "127.0.0.1")
        procs.start("scheduler", str(BIN / "airflow"), "scheduler")
        procs.start("dag-processor", str(BIN / "airflow"), "dag-processor")
        procs.start("worker", str(BIN / "airflow"), "celery", "worker", "--queues", env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                    "--concurrency", env["AIRFLOW__CELERY__WORKER_CONCURRENCY"])
        api = Api(f"http://127.0.0.1:{api_port}", home)
        _wait("the api-server to hand out a token", api.login, procs, timeout=120)
        yield {"api": api, "env": env, "procs": procs, "sandbox": sandbox, "shop_url": shop_url,
               "config_path": config_path}
    finally:
        procs.stop()
        sandbox.stop()
        for name in (meta_db, shop_db):
            _drop_database(name)


def _all_done(api: Api, dag_id: str, count: int):
    runs = api.runs(dag_id)
    if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
        return runs
    return None


def _xcoms(api: Api, dag_id: str, run_id: str) -> dict[str, dict]:
    out = {}
    for task in ("lookup", "accept", "import", "fulfillment"):
        value = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries/return_value",
                        deserialize=True)["value"]
        out[task] = json.loads(value) if isinstance(value, str) else value
    return out


def test_celery_deployment_runs_scheduled_manual_and_backfill_exactly_once(deployment):
    api, env, procs, sandbox = deployment["api"], deployment["env"], deployment["procs"], deployment["sandbox"]
    started = time.monotonic()

    # 1. the dag-processor has serialised the DAGs; unpause them, the scheduler runs yesterday's interval
    for dag_id in DAGS:
        _wait(f"{dag_id} in the metadata DB", lambda d=dag_id: _try(api.get, f"/dags/{d}"), procs)
        api.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    for dag_id in DAGS:
        runs = _wait(f"the scheduled run of {dag_id}", lambda d=dag_id: _all_done(api, d, 1), procs)
        assert [r["run_type"] for r in runs] == ["scheduled"], runs

    # what the marketplace holds now; confirmations below change lastUpdatedTime of shipped orders
    before = {d: sandbox.get_admin("/orders", marketplaceId=_marketplace_id(d))["orders"] for d in DAGS}

    # 2. the warehouse ships orders: the next runs must confirm each of them exactly once
    from ordersync.config import load_config
    from ordersync.demo import ship_orders
    from ordersync.shop.store import ShopStore

    config = load_config(deployment["config_path"])
    store = ShopStore.from_url(deployment["shop_url"])
    shipped = {dag_id: ship_orders(store, config.entry(_entry(dag_id)), SHIPPED_PER_ENTRY) for dag_id in DAGS}

    # 3. a manual run with params through the REST API, and a backfill of three past days (CLI),
    # all queued at once so the runs of both countries compete for the pool
    now = datetime.now(timezone.utc)
    for dag_id in DAGS:
        api.send("POST", f"/dags/{dag_id}/dagRuns",
                 {"logical_date": now.isoformat(), "conf": {"lookback_hours": 72}})
    today = date.today()
    first, last = today - timedelta(days=BACKFILL_DAYS + 1), today - timedelta(days=2)
    for dag_id in DAGS:
        _run(env, str(BIN / "airflow"), "backfill", "create", "--dag-id", dag_id,
             "--from-date", first.isoformat(), "--to-date", last.isoformat(),
             "--reprocess-behavior", "none", "--max-active-runs", str(BACKFILL_DAYS))
    expected_runs = 1 + 1 + BACKFILL_DAYS
    runs = {d: _wait(f"{expected_runs} finished runs of {d}", lambda d=d: _all_done(api, d, expected_runs), procs,
                     timeout=400) for d in DAGS}

    # 3b. the daily recovery over every entry: imports only what the country runs left out
    _wait(f"{RECOVERY} in the metadata DB", lambda: _try(api.get, f"/dags/{RECOVERY}"), procs)
    api.send("PATCH", f"/dags/{RECOVERY}", {"is_paused": False})
    [recovery_run] = _wait(f"the scheduled run of {RECOVERY}", lambda: _all_done(api, RECOVERY, 1), procs)
    assert recovery_run["state"] == "success", procs.tail("scheduler")
    recovery = api.get(f"/dags/{RECOVERY}/dagRuns/{recovery_run['dag_run_id']}/taskInstances/summary/xcomEntries/return_value",
                       deserialize=True)["value"]
    recovery = json.loads(recovery) if isinstance(recovery, str) else recovery
    assert recovery["failed_entries"] == 0 and recovery["listed"] > 0, recovery

    # 4. every run succeeded, with its four XComs, consistent with the shop DB and the sandbox
    from sqlalchemy import func, select

    from ordersync.shop import schema as t

    with store.engine.connect() as conn:
        recorded = {(r.entry, r.step, r.run_id): r for r in conn.execute(select(t.sync_runs))}
        orders = conn.execute(select(t.orders.c.marketplace_order_id, t.orders.c.id)).all()
        orders_by_country = dict(conn.execute(select(t.orders.c.country, func.count()).group_by(t.orders.c.country)).all())
        lines = conn.execute(  # FBA orders (DE imports them) never move the shop's stock
            select(func.count()).select_from(t.order_lines.join(t.orders)).where(t.orders.c.fulfillment == "MERCHANT")
        ).scalar()
        sales = t.stock_moves.c.reason == "sale"  # pending orders also hold reserve / release moves
        moves_per_line = conn.execute(
            select(t.stock_moves.c.order_line_id, func.count()).where(sales).group_by(t.stock_moves.c.order_line_id)).all()
        moves = conn.execute(select(func.count()).select_from(t.stock_moves).where(sales)).scalar()
        cancels = conn.execute(select(func.count()).select_from(t.stock_moves).where(t.stock_moves.c.reason == "cancel")).scalar()
        confirmations = conn.execute(select(t.shipment_confirmations.c.order_id, t.shipment_confirmations.c.state)).all()
    store.engine.dispose()

    totals = {"imported": 0, "stock_moves": 0, "confirmed": 0}
    for dag_id, dag_runs in runs.items():
        assert len(dag_runs) == expected_runs
        assert sorted(r["run_type"] for r in dag_runs) == ["backfill"] * BACKFILL_DAYS + ["manual", "scheduled"]
        bad = [(r["run_id"], r["state"]) for r in dag_runs if r["state"] != "success"]
        assert not bad, f"{dag_id}: runs not successful: {bad}\n{procs.tail('scheduler')}"
        for run in dag_runs:
            xcom = _xcoms(api, dag_id, run["dag_run_id"])
            for step, counts in xcom.items():  # the XCom is what the step recorded in the shop DB
                assert json.loads(recorded[(_entry(dag_id), step, run["dag_run_id"])].counts) == counts
            window = recorded[(_entry(dag_id), "lookup", run["dag_run_id"])]
            if run["run_type"] == "scheduled":  # ran before anything changed on the marketplace
                start, end = _utc(window.window_start), _utc(window.window_end)
                in_window = [o for o in before[dag_id] if start <= _ts(o["lastUpdatedTime"]) <= end]
                assert xcom["lookup"]["found"] == len(in_window) > 0, (dag_id, xcom)
            assert xcom["accept"] == {"accepted": 0, "refused": 0}
            for key in totals:
                totals[key] += xcom["import" if key != "confirmed" else "fulfillment"][key]
            if run["run_type"] == "manual":
                # lookback_hours reached back over the whole sandbox history (the end read is
                # clamped two minutes before the run, Amazon's rule)
                span = window.window_end - window.window_start
                assert timedelta(hours=72) - timedelta(minutes=5) < span <= timedelta(hours=72)

    # 5. exactly once: one order per marketplace order, one stock move per line, one confirmation
    # per shipped order, and the sandbox received each confirmation once
    ids = [o.marketplace_order_id for o in orders]
    assert len(ids) == len(set(ids)) and totals["imported"] + recovery["recovered"] == len(ids) > 0, (
        totals, recovery, _recovery_tasks(api, RECOVERY, recovery_run["dag_run_id"]), orders_by_country)
    assert moves == lines and moves + cancels >= totals["stock_moves"]
    assert all(n == 1 for _, n in moves_per_line)
    all_shipped = [oid for ids_ in shipped.values() for oid in ids_]
    assert len(all_shipped) == SHIPPED_PER_ENTRY * len(DAGS)
    assert len(confirmations) == len(all_shipped) and {c.state for c in confirmations} == {"confirmed"}
    assert totals["confirmed"] == len(all_shipped)
    received = sandbox.get_admin("/confirmations")["confirmations"]
    assert sorted(c["orderId"] for c in received) == sorted(all_shipped)

    # 6. the seller x region pools (reading; importing and confirming): never more running tasks
    # than slots, from start/end times
    tis = [ti for d in (*DAGS, RECOVERY) for ti in api.get(f"/dags/{d}/dagRuns/~/taskInstances", limit=1000)["task_instances"]
           if d != RECOVERY or ti["task_id"].startswith("amazon_")]  # recovery: the seller's Amazon entries
    assert {ti["pool"] for ti in tis} == set(POOLS)
    peaks = {}
    for pool in POOLS:
        slots = api.get(f"/pools/{pool}")["slots"]
        peaks[pool] = peak = _peak([(ti["start_date"], ti["end_date"]) for ti in tis if ti["pool"] == pool])
        assert 1 <= peak <= slots, f"{peak} tasks of pool {pool} ran at once (slots {slots})"
    # the reading pool had work to hold back: more runs (one task running each) were active than slots
    slots = api.get(f"/pools/{POOLS[0]}")["slots"]
    run_peak = _peak([(r["start_date"], r["end_date"]) for d in DAGS for r in runs[d]])
    assert run_peak > slots, f"only {run_peak} runs were active at once: the pool was never tested"
    # the two countries (and the recovery) of one seller shared one usage plan: never a 429
    assert sandbox.get_admin("/throttled")["throttled"] == {}
    print(f"\ncelery deployment: {sum(len(r) for r in runs.values())} runs, {len(tis)} task instances, "
          f"pool peaks {peaks} tasks with up to {run_peak} runs active, {len(ids)} orders, "
          f"{time.monotonic() - started:.0f} s after start-up")


def _peak(spans: list[tuple[str, str]]) -> int:
    """Most spans open at one instant (an end at the same instant as a start closes first)."""
    events = sorted([(_ts(a), 1) for a, _ in spans] + [(_ts(b), -1) for _, b in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def _try(fn, *args):
    try:
        return fn(*args)
    except requests.HTTPError:
        return None


def _entry(dag_id: str) -> str:
    return dag_id.removeprefix("ordersync_")  # ordersync_amazon_it -> config entry amazon_it


def _marketplace_id(dag_id: str) -> str:
    from ordersync.marketplaces import amazon_marketplace

    return amazon_marketplace(_entry(dag_id).split("_")[1].upper()).marketplace_id


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _ts(value: str) -> datetime:
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _recovery_tasks(api, dag_id, run_id):
    out = {}
    for ti in api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
        try:
            out[ti["task_id"]] = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries/return_value", deserialize=True)["value"]
        except Exception as exc:  # noqa: BLE001
            out[ti["task_id"]] = repr(exc)
    return out
