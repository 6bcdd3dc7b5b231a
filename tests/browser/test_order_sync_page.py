"""The "Order sync" page in a real browser, against a real Airflow deployment on the sandbox.

Chromium (Debian's, /usr/bin/chromium) driven by Playwright; ``airflow api-server``, ``scheduler``
and ``dag-processor`` from the venv (LocalExecutor, SQLite metadata and shop databases); the
sandbox marketplace. While the servers start, ``ordersync_amazon_it`` and
``ordersync_cdiscount_fr`` run once in this process (``dag.test``, as tests/e2e do) so the shop has
imported, set-aside and waiting orders, and the reconciliation writes its table. Then: the page's routes answer 401/403 without a login; a
viewer reads but may not press buttons; the merchant logs in through Airflow's login form, opens
the page from the nav, sees the summary the shop database has, adds the missing product of an
order set aside for ``no_matching_product``, re-imports it from the page, follows the action run to
green and sees the order leave the list. Screenshots go to tests/browser/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from sqlalchemy import text

from ordersync.overview import SUMMARY_COUNTS
from tests.conftest import IN_CI, REPO
from tests.helpers.processes import Processes, bearer_login, free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("ORDERSYNC_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "tests" / "browser" / "artifacts"
BIN = Path(sys.executable).parent
ENTRIES = {("amazon", "IT"), ("cdiscount", "FR")}
USERS = {"merchant": "user", "viewer": "viewer"}  # simple auth manager roles: user may trigger runs
RUN_TIMEOUT = 120


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -r requirements.txt -c constraints.txt)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the browser test")
        pytest.skip(problem)


def _run(env: dict[str, str], *cmd: str, timeout: float = 240) -> None:
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd[:4])} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


def _test_config(home: Path) -> Path:
    config = yaml.safe_load((REPO / "include" / "marketplaces.yaml").read_text())
    config["entries"] = [e for e in config["entries"] if (e["marketplace"], e["country"]) in ENTRIES]
    path = home / "marketplaces.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _set_aside_order(sandbox) -> str:
    """An Amazon IT order for a product the shop lacks (OS-CLOCK-WALL): import sets it aside."""
    from ordersync.marketplaces import amazon_marketplace

    when = (datetime.now(timezone.utc) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"marketplaceId": amazon_marketplace("IT").marketplace_id, "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT", "items": [{"sellerSku": "OS-CLOCK-WALL", "quantity": 1}],
            "createdTime": when, "lastUpdatedTime": when}
    return sandbox.post_admin("/orders", body)["order"]["orderId"]


class Api:
    """Airflow's REST API with a user's token (POST /auth/token)."""

    def __init__(self, base: str):
        self.base, self.http = base, requests.Session()

    def login(self, username: str, password: str) -> bool:
        return bearer_login(self.http, self.base, username, password)

    def get(self, path: str):
        r = self.http.get(f"{self.base}{path}", timeout=30)
        return r.json() if r.ok else None


def _shop_history(shop_url: str, sandbox, config_path: Path) -> str:
    """The shop's past, written in this process while the servers start: the demo catalogue, one run of each entry's DAG (dag.test, as tests/e2e do) and the
    reconciliation (ordersync.reconcile, what the reconciliation DAG's task calls). Returns the
    id of the Amazon IT order set aside for a missing product."""
    from airflow.dag_processing.dagbag import DagBag

    from ordersync import demo, reconcile
    from ordersync.config import load_config
    from ordersync.shop.store import ShopStore
    from tests.helpers.sandbox import sandbox_connections

    store = ShopStore.from_url(shop_url)
    store.migrate()
    demo.seed_products(store)
    set_aside = _set_aside_order(sandbox)
    conns = {**{k: json.dumps(v) for k, v in sandbox_connections(sandbox.url).items()},
             "AIRFLOW_CONN_ORDERSYNC_SHOP": json.dumps({"conn_type": "sqlite", "host": shop_url.removeprefix("sqlite:///")}),
             "ORDERSYNC_CONFIG": str(config_path)}
    saved = {k: os.environ.get(k) for k in conns}
    os.environ.update(conns)
    try:
        dags = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        for dag_id in ("ordersync_amazon_it", "ordersync_cdiscount_fr"):
            started = time.monotonic()
            run = dags.get_dag(dag_id).test(run_conf={"lookback_hours": 72})
            assert run.state == "success", f"{dag_id}: {run.state}"
            print(f"{dag_id} (dag.test): {time.monotonic() - started:.1f} s")
        reconcile.reconcile(store, load_config(config_path).enabled, config_path.parent / "reports")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        store.engine.dispose()
    return set_aside


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, airflow_db):
    _require_browser()
    from ordersync.demo import sandbox_connections
    from tests.helpers.sandbox import start_sandbox

    home = tmp_path_factory.mktemp("browser-airflow")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shop_url = f"sqlite:///{home / 'shop.db'}"
    passwords = {name: secrets.token_urlsafe(12) for name in USERS}
    (home / "passwords.json").write_text(json.dumps(passwords))
    sandbox = start_sandbox(seed=17, days=3, orders_per_day=15, countries="IT")
    config_path = _test_config(home)
    conns = sandbox_connections(sandbox.url)
    conns["ordersync_shop"] = {"conn_type": "ordersync_shop", "host": str(home / "shop.db"), "extra": {"dialect": "sqlite"}}
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(home),
        "ORDERSYNC_CONFIG": str(config_path),
        "ORDERSYNC_REPORTS_DIR": str(home / "reports"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": base,  # tasks reach the execution API here, the page its REST API
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{role}" for u, role in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # the sandbox marketplaces and the SQLite shop as Airflow connections (the page reads the shop's too)
        **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields) for conn_id, fields in conns.items()},
    }
    procs = Processes(home, env, REPO)
    try:
        started = time.monotonic()
        _run(env, str(BIN / "airflow"), "db", "migrate")
        procs.start("api-server", str(BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1")
        procs.start("dag-processor", str(BIN / "airflow"), "dag-processor")
        procs.start("scheduler", str(BIN / "airflow"), "scheduler")
        # the shop's history is written in this process while the servers start (they read the
        # shop only when the page asks; this process's dag.test uses the tests' own Airflow home)
        set_aside = _shop_history(shop_url, sandbox, config_path)
        api = Api(base)
        procs.wait("the api-server to hand out a token", lambda: api.login("merchant", passwords["merchant"]), 120)
        procs.wait("the dag-processor to parse ordersync_actions", lambda: api.get("/api/v2/dags/ordersync_actions"), 120)
        r = api.http.patch(f"{base}/api/v2/dags/ordersync_actions", json={"is_paused": False}, timeout=30)
        assert r.ok, r.text
        print(f"metadata database, shop history, servers up: {time.monotonic() - started:.1f} s")
        yield {"base": base, "api": api, "passwords": passwords, "shop_url": shop_url,
               "set_aside": set_aside, "procs": procs}
    finally:
        procs.stop()
        sandbox.stop()


ROUTES = [("GET", "/ordersync/"), ("GET", "/ordersync/api/overview"), ("GET", "/ordersync/report"),
          ("POST", "/ordersync/api/actions"), ("GET", "/ordersync/api/actions/manual__x")]


def test_the_page_and_its_api_need_a_login(deployment):
    base = deployment["base"]
    body = {"entry": "amazon_it", "action": "reimport", "order_ids": [deployment["set_aside"]]}
    for method, path in ROUTES:
        r = requests.request(method, base + path, json=body, timeout=30)
        assert r.status_code in (401, 403), f"{method} {path} answered {r.status_code} without a login"
        assert deployment["set_aside"] not in r.text and "amazon_it" not in r.text
        r = requests.request(method, base + path, json=body, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
        assert r.status_code in (401, 403), f"{method} {path} answered {r.status_code} to a forged token"
    # a viewer reads the page's data but may not create action runs
    viewer = Api(base)
    assert viewer.login("viewer", deployment["passwords"]["viewer"])
    r = viewer.http.get(f"{base}/ordersync/api/overview", timeout=30)
    assert r.status_code == 200 and r.json()["can_trigger"] is False
    r = viewer.http.post(f"{base}/ordersync/api/actions", json=body, timeout=30)
    assert r.status_code == 403, r.text


def _shop_summary(shop_url: str, entry: str) -> dict:
    from sqlalchemy import create_engine

    engine = create_engine(shop_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT * FROM v_sync_summary WHERE entry = :e"), {"e": entry}).mappings().one())
    finally:
        engine.dispose()


def test_merchant_reimports_an_order_from_the_page(deployment):
    from playwright.sync_api import expect, sync_playwright

    from ordersync.shop.store import ShopStore

    base, order_id = deployment["base"], deployment["set_aside"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(base + "/")
            # Airflow's own login form (simple auth manager)
            page.locator("input[type=password]").wait_for(timeout=60_000)
            page.locator("input:not([type=password])").first.fill("merchant")
            page.locator("input[type=password]").fill(deployment["passwords"]["merchant"])
            page.keyboard.press("Enter")
            page.get_by_role("link", name="Order sync").or_(page.get_by_role("button", name="Order sync")).first.click(timeout=60_000)
            page.wait_for_url("**/plugin/order-sync", timeout=30_000)
            frame = page.frame_locator("iframe[src*='/ordersync/']")
            amazon = frame.locator("section[data-entry=amazon_it]")
            expect(amazon).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "order_sync_in_airflow.png"))

            # every figure is what the shop database's v_sync_summary says
            for entry in ("amazon_it", "cdiscount_fr"):
                shop = _shop_summary(deployment["shop_url"], entry)
                for count in SUMMARY_COUNTS:
                    expect(frame.locator(f"section[data-entry={entry}] [data-count={count}]")).to_have_text(str(shop[count]))
            before = _shop_summary(deployment["shop_url"], "amazon_it")
            assert before["orders_imported"] > 0 and before["orders_not_imported"] > 0
            row = amazon.locator(f"[data-list=not_imported] tr[data-order='{order_id}']")
            expect(row).to_contain_text("no_matching_product")

            # the merchant adds the product, then re-imports the order from the page
            store = ShopStore.from_url(deployment["shop_url"])
            store.add_products([{"sku": "OS-CLOCK-WALL", "name": "Wall clock", "stock": 3}])
            store.engine.dispose()
            row.locator("input.pick").check()
            amazon.locator("[data-list=not_imported] button[data-action=reimport]").click()
            run = frame.locator("#runs li").first
            expect(run).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT * 1000)
            expect(amazon.locator(f"[data-list=not_imported] tr[data-order='{order_id}']")).to_have_count(0, timeout=30_000)
            after = _shop_summary(deployment["shop_url"], "amazon_it")
            assert (after["orders_imported"], after["orders_not_imported"]) == (
                before["orders_imported"] + 1, before["orders_not_imported"] - 1)
            expect(amazon.locator("[data-count=orders_imported]")).to_have_text(str(after["orders_imported"]))
            run_id = run.get_attribute("data-run")
            run_url = run.locator("a.run-link").get_attribute("href")

            # the run is the merchant's own, with the DAG's params, and the link opens it in the grid
            dag_run = deployment["api"].get(f"/api/v2/dags/ordersync_actions/dagRuns/{run_id}")
            assert dag_run["conf"] == {"entry": "amazon_it", "action": "reimport", "order_ids": [order_id]}
            assert dag_run["triggering_user_name"] == "merchant"
            assert run_url == f"{base}/dags/ordersync_actions/runs/{quote(run_id, safe='')}"
            page.goto(run_url)
            expect(page.get_by_text(run_id).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "action_run_in_grid.png"))

            # the page on its own (full length) and the report it serves, in the same session
            alone = page.context.new_page()
            alone.goto(base + "/ordersync/")
            expect(alone.locator("section[data-entry=cdiscount_fr] [data-list=waiting_acceptance]")).to_be_visible()
            alone.screenshot(path=str(ARTIFACTS / "order_sync_page.png"), full_page=True)
            report = page.context.new_page()
            report.goto(base + "/ordersync/report")
            expect(report.get_by_role("heading", name="Reconciliation")).to_be_visible()
            expect(report.get_by_text("amazon_it").first).to_be_visible()
            report.screenshot(path=str(ARTIFACTS / "reconciliation_report.png"), full_page=True)
        finally:
            browser.close()
