"""The deployment artefacts are checked by parsing (no Docker engine runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_compose_has_the_airflow3_components_built_from_the_dockerfile(compose):
    services = compose["services"]
    for name in (*AIRFLOW_SERVICES, "postgres"):
        assert name in services, f"service {name} missing from docker-compose.yaml"
    for name in (*AIRFLOW_SERVICES, "airflow-worker", "eniscope-simulator"):
        assert services[name].get("build") == ".", f"{name} must be built from the project Dockerfile"


def test_compose_defaults_to_local_executor_and_celery_is_a_profile(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["eniscope-simulator"]["profiles"] == ["simulator"]
    for name in AIRFLOW_SERVICES:
        assert "profiles" not in services[name], f"{name} must run without a profile"
        assert "redis" not in services[name].get("depends_on", {}), f"{name} must not need redis"


def test_all_airflow_components_share_jwt_secret_and_execution_api(compose):
    services = compose["services"]
    secrets = {services[n]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for n in AIRFLOW_SERVICES}
    urls = {services[n]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] for n in AIRFLOW_SERVICES}
    assert len(secrets) == 1, f"one JWT secret for every component, got {secrets}"
    assert urls == {"http://airflow-apiserver:8080/execution/"}


def test_long_running_services_have_health_checks(compose):
    services = compose["services"]
    for name, svc in services.items():
        if name == "airflow-init":
            continue
        assert "healthcheck" in svc, f"{name} needs a healthcheck"
        assert svc["healthcheck"]["test"], f"{name} healthcheck must run something"


def test_secrets_come_from_env_and_are_not_committed(compose):
    text = (REPO / "docker-compose.yaml").read_text()
    for var in ("POSTGRES_PASSWORD", "FERNET_KEY", "AIRFLOW_JWT_SECRET"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be required from .env"
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in gitignore, ".env must be git-ignored"
    example = (REPO / ".env.example").read_text()
    for var in ("POSTGRES_PASSWORD", "FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_CONN_ENERGY_DB",
                "AIRFLOW_CONN_ENISCOPE_DEFAULT"):
        assert re.search(rf"^#? ?{var}=", example, re.M), f".env.example must document {var}"


def test_metadata_and_warehouse_are_two_databases_on_one_server(compose):
    pg = compose["services"]["postgres"]
    assert pg["environment"]["POSTGRES_DB"] == "airflow"
    assert any("postgres-init.sh" in v for v in pg["volumes"]), "warehouse database init script not mounted"
    conn = compose["x-airflow-common"]["environment"]["AIRFLOW_CONN_ENERGY_DB"]
    assert "@postgres:5432/energy" in conn


def test_dockerfile_extends_official_image_and_installs_against_its_constraints():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2\s*$", text, re.M)
    assert '--constraint "${HOME}/constraints.txt"' in text
    assert "-r /opt/airflow/requirements.txt" in text
    for folder in ("dags", "plugins", "include"):
        assert re.search(rf"^COPY .*{folder}/ /opt/airflow/{folder}/", text, re.M), f"{folder}/ not copied"


def test_requirements_pin_airflow_and_the_lock_pins_everything():
    reqs = (REPO / "requirements.txt").read_text()
    assert re.search(r"^apache-airflow==3\.3\.2$", reqs, re.M)
    for provider in ("postgres", "http", "common-sql", "slack", "smtp"):
        assert re.search(rf"^apache-airflow-providers-{provider}\b", reqs, re.M), provider
    lock_lines = [
        line for line in (REPO / "requirements.lock").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    unpinned = [line for line in lock_lines if "==" not in line]
    assert not unpinned, f"unpinned lines in requirements.lock: {unpinned[:5]}"
    assert "apache-airflow==3.3.2" in lock_lines
