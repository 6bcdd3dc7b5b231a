"""docker-compose.yaml is checked for syntax and shape here (no Docker engine on CI machines)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_compose_parses_and_mounts_the_project():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    services = compose["services"]
    for name in ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                 "airflow-worker", "airflow-triggerer", "airflow-init", "sandbox"):
        assert name in services, name
    scheduler = services["airflow-scheduler"]
    mounts = {m.split(":")[1] for m in scheduler["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
    env = scheduler["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "AIRFLOW_CONN_AMAZON_EU" in env and "AIRFLOW_CONN_ORDERSYNC_SHOP" in env
    assert scheduler["build"] == "."
    assert (REPO / "Dockerfile").read_text().count("requirements.txt") >= 1
