"""docker-compose.yaml is checked for syntax and shape here (no Docker engine on CI machines).

`make compose-check` runs this file. It parses the compose file with PyYAML (anchors and merge
keys resolved as Docker Compose resolves them) and checks what the demo relies on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init")


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"]


def test_official_shape_services(services):
    for name in ("postgres", "redis", "sandbox", "flower", *AIRFLOW_SERVICES):
        assert name in services, name
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    assert services["flower"]["command"] == "celery flower" and services["flower"]["profiles"] == ["flower"]
    # everything that runs DAGs waits for airflow-init
    for name in AIRFLOW_SERVICES[:-1]:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "flower", "sandbox"])
def test_image_env_and_mounts(services, name):
    service = services[name]
    # the Dockerfile: the ordersync package (runtime deps) locked by constraints.txt; the sandbox
    # service alone gets the sandbox extra
    assert service["build"] == {"context": ".", "target": "sandbox" if name == "sandbox" else "runtime"}
    env = service["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["ORDERSYNC_CONFIG"] == "/opt/airflow/include/marketplaces.yaml"
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env
    # "${AIRFLOW_PROJ_DIR:-.}/dags:/opt/airflow/dags": the variable's own colon is not a separator
    mounts = {re.sub(r"\$\{[^}]*\}", "", m).split(":")[1] for m in service["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts


def test_one_shared_jwt_secret(services):
    secrets = {services[n]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for n in (*AIRFLOW_SERVICES, "flower")}
    assert len(secrets) == 1 and secrets.pop()


def test_init_prepares_pools_connections_and_shop_db(services):
    init = services["airflow-init"]
    script = "\n".join(init["command"])
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true" and "/entrypoint airflow version" in script
    for step in ("python -m ordersync pools", "airflow pools import", "python -m ordersync db upgrade",
                 "airflow connections add amazon_eu", "airflow connections add ordersync_shop"):
        assert step in script, step
    assert "http://sandbox:8765" in init["environment"]["ORDERSYNC_SANDBOX_CONN"]
    assert '"schema": "shop"' in init["environment"]["ORDERSYNC_SHOP_CONN"]
    shop_sql = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert shop_sql and (REPO / shop_sql[0].split(":")[0]).read_text().count("CREATE DATABASE shop") == 1


def test_sandbox_is_its_own_service(services):
    sandbox = services["sandbox"]
    assert sandbox["command"][:3] == ["python", "-m", "ordersync.sandbox"] and "8765" in sandbox["command"]
    assert services["airflow-worker"]["depends_on"]["sandbox"]["condition"] == "service_healthy"


def test_the_image_installs_the_runtime_package_only():
    dockerfile = (REPO / "Dockerfile").read_text()
    runtime, sandbox = dockerfile.split("FROM runtime AS sandbox")
    assert "pip install --no-cache-dir /opt/ordersync -c /opt/ordersync/constraints.txt" in runtime
    assert "requirements.txt" not in dockerfile  # pytest, requests-mock... stay out of the image
    assert '"/opt/ordersync[sandbox]"' in sandbox
    # every pin of the image comes from the lock the tests ran with
    assert "apache-airflow-providers-celery==" in (REPO / "constraints.txt").read_text()
