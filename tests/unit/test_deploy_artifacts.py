"""The deployment artefacts are checked by parsing (no Docker engine runs in CI)."""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
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
    example = (REPO / ".env.example").read_text()
    for var, role in (("AIRFLOW_CONN_ENERGY_DB", "argo_writer"), ("AIRFLOW_CONN_ENERGY_DB_OWNER", "argo_owner"),
                      ("AIRFLOW_CONN_ENERGY_DB_READONLY", "argo_readonly")):
        assert re.search(rf"^{var}=postgresql://{role}:<[A-Z_]+>@postgres:5432/energy$", example, re.M), var


DEV_TOOLS = ("pytest", "pytest-timeout", "ruff", "mypy", "playwright", "aiosmtpd", "types-requests", "types-pyyaml")
_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _lock_entries(name: str) -> dict[str, list[str]]:
    """{package==version line: its continuation lines} of a uv/pip lock file."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in (REPO / name).read_text().splitlines():
        if _REQ.match(line):
            current = line.rstrip(" \\")
            entries[current] = []
        elif line.startswith(" ") and current and not line.strip().startswith("#"):
            entries[current].append(line.strip())
    return entries


def test_dockerfile_installs_the_runtime_lock_with_hashes_then_the_project_without_deps():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:slim-3\.3\.2-python3\.11\s*$", text, re.M), "the Python the locks are for"
    runs = [" ".join(m.split()) for m in re.findall(r"^RUN ((?:.*\\\n)*.*)$", text, re.M)]
    installs = [r for r in runs if "pip install" in r]
    assert installs[0].replace("\\", "").split()[-2:] == ["-r", "/opt/airflow/requirements.lock"], installs[0]
    assert "--require-hashes" in installs[0]
    assert "requirements.txt" not in text, "the image installs the lock, nothing else"
    assert "constraints" not in text, "the image installs the lock, nothing else"
    assert re.search(r"^COPY .*requirements\.lock /opt/airflow/requirements\.lock$", text, re.M)
    assert installs[-1].endswith("--no-deps -e /opt/airflow"), installs[-1]
    for folder in ("dags", "plugins", "include"):
        assert re.search(rf"^COPY .*{folder}/ /opt/airflow/{folder}/", text, re.M), f"{folder}/ not copied"


def test_requirements_pin_airflow_and_the_runtime_lock_pins_and_hashes_everything():
    reqs = (REPO / "requirements.txt").read_text()
    assert re.search(r"^apache-airflow==3\.3\.2$", reqs, re.M)
    for provider in ("postgres", "http", "common-sql", "slack", "smtp", "fab"):
        assert re.search(rf"^apache-airflow-providers-{provider}\b", reqs, re.M), provider
    lock = _lock_entries("requirements.lock")
    assert "apache-airflow==3.3.2" in lock
    text_lines = [line for line in (REPO / "requirements.lock").read_text().splitlines()
                  if line and not line.startswith((" ", "#"))]
    assert len(text_lines) == len(lock), f"unpinned lines: {[x for x in text_lines if not _REQ.match(x)][:5]}"
    unhashed = [req for req, rest in lock.items() if not any(r.startswith("--hash=sha256:") for r in rest)]
    assert not unhashed, f"requirements without a hash: {unhashed[:5]}"


def test_no_dev_tool_is_in_the_runtime_lock_and_the_dev_lock_has_them_hashed():
    runtime = {_REQ.match(req)[1].lower() for req in _lock_entries("requirements.lock")}
    dev_lock = _lock_entries("requirements-dev.lock")
    dev = {_REQ.match(req)[1].lower(): req for req in dev_lock}
    assert not runtime & set(DEV_TOOLS), f"dev tools in the runtime lock: {sorted(runtime & set(DEV_TOOLS))}"
    assert set(DEV_TOOLS) <= set(dev), f"missing from requirements-dev.lock: {sorted(set(DEV_TOOLS) - set(dev))}"
    assert all(any(r.startswith("--hash=") for r in rest) for rest in dev_lock.values())
    # One version of everything: a package in both locks has the runtime pin (-c requirements.lock).
    runtime_pins = dict(_REQ.match(req).groups() for req in _lock_entries("requirements.lock"))
    clashes = {n: v for n, v in (_REQ.match(r).groups() for r in dev_lock) if n in runtime_pins and runtime_pins[n] != v}
    assert not clashes, clashes


def test_make_venv_installs_both_locks_with_hashes_and_lock_keeps_pins():
    text = (REPO / "Makefile").read_text()
    assert "pip install -q -p $(PY) --require-hashes -r requirements.lock -r requirements-dev.lock" in text
    lock_recipe = text.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes requirements.txt -o requirements.lock" in lock_recipe
    assert "--generate-hashes requirements-dev.txt -c requirements.lock -o requirements-dev.lock" in lock_recipe
    assert "$(if $(UPGRADE),--upgrade)" in lock_recipe, "pins move only when asked"


# --------------------------------------------------------------------------------------------------
# Compose hardening (issue 18)
# --------------------------------------------------------------------------------------------------


def test_simulator_stands_alone_without_env_file_volumes_or_airflow_secrets(compose):
    sim = compose["services"]["eniscope-simulator"]
    assert "env_file" not in sim, sorted(sim)
    assert "volumes" not in sim, sorted(sim)
    assert not any(k.startswith(("AIRFLOW", "ENERGY", "POSTGRES")) for k in sim.get("environment", {}))
    text = (REPO / "docker-compose.yaml").read_text()
    block = text.split("\n  eniscope-simulator:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    assert "<<: *airflow-common" not in block, "the simulator must not merge x-airflow-common"


def test_api_server_binds_loopback_with_the_fab_auth_manager(compose):
    api = compose["services"]["airflow-apiserver"]
    assert api["ports"] == ["127.0.0.1:8080:8080"]
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    env = api["environment"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    assert not any("SIMPLE_AUTH_MANAGER" in k for k in env)


def test_passwords_are_required_never_defaulted(compose):
    text = (REPO / "docker-compose.yaml").read_text()
    assert "energy:energy" not in text
    for var in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "ENERGY_OWNER_PASSWORD", "ENERGY_WRITER_PASSWORD",
                "ENERGY_READONLY_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_CONN_ENERGY_DB",
                "AIRFLOW_CONN_ENERGY_DB_OWNER"):
        uses = re.findall(r"(?<!\$)\$\{" + var + r"(:[?-][^}]*)?\}", text)  # $${X}: the container's shell
        assert uses, f"{var} is not used"
        assert all(u.startswith(":?") for u in uses), f"{var} must fail fast when unset (${{{var}:?...}}), got {uses}"
    example = (REPO / ".env.example").read_text()
    for var in ("REDIS_PASSWORD", "ENERGY_OWNER_PASSWORD", "ENERGY_WRITER_PASSWORD", "ENERGY_READONLY_PASSWORD",
                "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_CONN_ENERGY_DB_OWNER", "AIRFLOW_CONN_ENERGY_DB_READONLY"):
        assert re.search(rf"^{var}=", example, re.M), f".env.example must document {var}"
    assert not re.search(r"^[A-Z_]*PASSWORD=\S", example, re.M), ".env.example must not carry a password"


def test_redis_requires_a_password_and_celery_sends_it(compose):
    redis = compose["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert "REDIS_PASSWORD" in " ".join(redis["command"]), "the password comes from the environment"
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    broker = compose["x-airflow-common"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://:${REDIS_PASSWORD:?"), broker


def test_postgres_init_creates_the_three_roles_with_passwords_from_the_environment(compose):
    pg = compose["services"]["postgres"]
    assert any(v.startswith("./include/sql/roles:") for v in pg["volumes"])
    env = pg["environment"]
    for role in ("OWNER", "WRITER", "READONLY"):
        assert env[f"ARGO_{role}_PASSWORD"].startswith(f"${{ENERGY_{role}_PASSWORD:?")
    init = (REPO / "deploy" / "postgres-init.sh").read_text()
    assert "-f /argo/roles/roles.sql" in init
    assert not re.search(r"PASSWORD[^\n]*-v|-v [a-z_]*pass", init, re.I), "no password as a psql argument"
    roles_sql = (REPO / "include" / "sql" / "roles" / "login_role.sql").read_text()
    assert "\\getenv role_password_env_value :password_env" in roles_sql
    init_cmd = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "--password" not in init_cmd, "the admin password goes in on stdin"
    assert "--conn-id energy_db_owner" in init_cmd


# --------------------------------------------------------------------------------------------------
# devtools/audit.py: OSV against the runtime lock, offline-tolerant
# --------------------------------------------------------------------------------------------------


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "devtools" / "audit.py"), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_audit_is_skipped_not_failed_when_the_database_is_unreachable():
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _audit(str(REPO / "requirements.lock"), "--url", f"http://127.0.0.1:{port}/v1/querybatch", "--timeout", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("audit skipped: offline"), done.stdout


def test_audit_fails_on_a_known_vulnerability_and_honours_ignores(tmp_path):
    seen: list[dict] = []

    class OSV(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            queries = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["queries"]
            seen.extend(queries)
            results = [{"vulns": [{"id": "GHSA-test"}]} if q["package"]["name"] == "jinja2" else {} for q in queries]
            body = json.dumps({"results": results}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    lock = tmp_path / "requirements.lock"
    lock.write_text("jinja2==3.1.2 \\\n    --hash=sha256:00\nrequests==2.32.3 \\\n    --hash=sha256:11\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OSV)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/querybatch"
        bad = _audit(str(lock), "--url", url)
        ignored = _audit(str(lock), "--url", url, "--ignore", "GHSA-test")
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "jinja2==3.1.2: GHSA-test" in bad.stdout
    assert ignored.returncode == 0, ignored.stdout
    assert {q["package"]["name"]: q["version"] for q in seen} == {"jinja2": "3.1.2", "requests": "2.32.3"}
