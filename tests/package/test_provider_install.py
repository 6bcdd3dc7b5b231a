"""``pip install .`` gives a provider Airflow finds: its connection types, their fields and labels.

The package is installed into a folder of its own and Airflow runs with only that folder on
PYTHONPATH, so what is tested is the installed wheel (entry point, package data), not the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def installed(airflow_db, tmp_path_factory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(REPO)],
        check=True, capture_output=True, text=True, cwd=build,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PYTHONPATH"] = str(target)  # the installed package only, not plugins/
    return env


def _airflow(env, *args: str) -> str:
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_wheel_carries_the_package_data(installed):
    site = Path(installed["PYTHONPATH"])
    assert (site / "ordersync" / "queries" / "views" / "v_sync_summary.sql").is_file()
    assert (site / "ordersync" / "shop" / "migrations" / "script.py.mako").is_file()
    assert not (site / "tests").exists()


def test_airflow_lists_the_provider_and_its_connection_types(installed):
    providers = json.loads(_airflow(installed, "providers", "list", "-o", "json"))
    assert {"package_name": "ordersync", "version": "0.1.0"}.items() <= next(
        p for p in providers if p["package_name"] == "ordersync").items()
    widgets = {w["connection_parameter_name"] for w in json.loads(_airflow(installed, "providers", "widgets", "-o", "json"))}
    assert {"extra__amazon_sp_api__refresh_token", "extra__amazon_sp_api__region", "extra__octopia__seller_id",
            "extra__octopia__token_url", "extra__lengow__max_retries", "extra__ordersync_shop__dialect"} <= widgets
    behaviours = {b["field_behaviours"] for b in json.loads(_airflow(installed, "providers", "behaviours", "-o", "json"))}
    assert behaviours >= {"amazon_sp_api", "octopia", "lengow", "ordersync_shop"}
    # what the Connections page gets: labels and hidden fields of each type
    code = ("import json; from airflow.providers_manager import ProvidersManager; "
            "print(json.dumps(ProvidersManager().field_behaviours['amazon_sp_api']))")
    done = subprocess.run([sys.executable, "-c", code], env=installed, capture_output=True, text=True, timeout=120)
    form = json.loads(done.stdout.strip().splitlines()[-1])
    assert form["relabeling"]["login"] == "LWA client id" and "port" in form["hidden_fields"]


def test_a_connection_of_the_new_type_is_added_and_read_by_its_hook(installed):
    extra = json.dumps({"refresh_token": "Atzr|not-a-real-one", "region": "EU"})
    _airflow(installed, "connections", "add", "seller_eu", "--conn-type", "amazon_sp_api",
             "--conn-login", "client-id", "--conn-password", "client-secret", "--conn-extra", extra)
    try:
        got = json.loads(_airflow(installed, "connections", "get", "seller_eu", "-o", "json"))[0]
        assert got["conn_type"] == "amazon_sp_api"
        # the installed hook reads it (as a task would; outside one, through the environment):
        # the region's endpoint, and no extra sent as a header
        fields = {"conn_type": got["conn_type"], "login": got["login"], "password": got["password"],
                  "extra": got["extra_dejson"]}
        env = {**installed, "AIRFLOW_CONN_SELLER_EU": json.dumps(fields)}
        code = (
            "from ordersync.hooks import AmazonSpApiHook; h = AmazonSpApiHook('seller_eu'); "
            "s = h.session; print(h.base_url, sorted(set(s.headers) & {'refresh_token', 'region'}))"
        )
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert done.stdout.strip().splitlines()[-1] == "https://sellingpartnerapi-eu.amazon.com []", done.stderr[-2000:]
    finally:
        _airflow(installed, "connections", "delete", "seller_eu")
