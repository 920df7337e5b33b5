"""docker-compose.yml, Dockerfile and .env.example: the Airflow 3 compose layout, the shared
environment block with the production tier's settings, volumes, health checks, no secrets.
(The docker client here has no compose plugin and there is no engine: when `docker compose`
is available, `docker compose config` validates the file too.)"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from transforms.orchestration.production import COMPOSE_SETTINGS

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "airflow-worker-writer"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_follow_airflow3_layout(compose):
    services = compose["services"]
    assert {"postgres", "redis", "flower", *AIRFLOW_SERVICES} <= set(services)
    assert services["flower"]["profiles"] == ["flower"]
    for name in AIRFLOW_SERVICES | {"flower"}:
        assert services[name]["image"].startswith("${CLEARCAP_IMAGE"), name
        assert services[name]["build"]["dockerfile"] == "Dockerfile", name
    cmd = {n: " ".join(services[n].get("command") or []) for n in services}
    assert cmd["airflow-apiserver"] == "airflow api-server"
    assert cmd["airflow-scheduler"] == "airflow scheduler"
    assert cmd["airflow-dag-processor"] == "airflow dag-processor"
    assert cmd["airflow-triggerer"] == "airflow triggerer"
    assert "celery worker --queues ingest " in cmd["airflow-worker"]
    assert "--queues writer,ingest" in cmd["airflow-worker-writer"]
    # scalable: no fixed container_name / hostname / host port on the ingest worker
    assert not {"container_name", "hostname", "ports"} & set(services["airflow-worker"])
    # everything waits for a successful airflow-init
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    init = (REPO / "deploy" / "airflow-init.sh").read_text()
    assert "airflow db migrate" in init and "AIRFLOW_ADMIN_PASSWORD" in init


def test_shared_environment_block(compose):
    common = compose["x-airflow-common"]["environment"]
    for key, value in COMPOSE_SETTINGS.items():
        if key == "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK":
            continue
        assert str(common[key]) == value, key
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert common["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", common[key]), key  # required, from .env
    assert common["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"  # login required
    # every Airflow service gets the same block (YAML merge of x-airflow-common)
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        assert all(env[k] == v for k, v in common.items()), name


def test_volumes_local_and_reader_read_only(compose):
    common_vols = compose["x-airflow-common"]["volumes"]
    assert "${CLEARCAP_LANDING_DIR:?set CLEARCAP_LANDING_DIR in .env}:/data/landing:ro" in common_vols
    assert any(v.endswith(":/data/warehouse") for v in common_vols)
    env = compose["x-airflow-common"]["environment"]
    assert env["CLEARCAP_LANDING"] == "/data/landing"
    assert env["CLEARCAP_WAREHOUSE"].startswith("/data/warehouse/")
    reader = compose["services"]["reader"]
    assert all(v.endswith(":ro") for v in reader["volumes"]) and reader["read_only"] is True
    # the private state is a directory of its own, mounted by the Airflow services only: readers
    # see the published files and nothing else
    assert env["CLEARCAP_STATE"] == "/data/state"
    assert "${CLEARCAP_STATE_DIR:?set CLEARCAP_STATE_DIR in .env}:/data/state" in common_vols
    for name, svc in compose["services"].items():
        if name not in AIRFLOW_SERVICES | {"flower", "superset"}:
            assert not any("CLEARCAP_STATE_DIR" in v for v in svc.get("volumes", [])), name
    assert {"postgres-db", "airflow-logs"} <= set(compose["volumes"])
    # ports published on loopback by default
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith(("127.0.0.1:", "${AIRFLOW_API_BIND:-127.0.0.1}:")), (name, port)


def test_healthchecks(compose):
    for name, svc in compose["services"].items():
        if name == "airflow-init":
            continue
        assert "healthcheck" in svc and svc["healthcheck"]["test"], name
    assert compose["services"]["postgres"]["healthcheck"]["test"][1] == "pg_isready"


def test_no_secrets_in_repository(compose):
    text = (REPO / "docker-compose.yml").read_text()
    envs = [compose["x-airflow-common"]["environment"]] + [svc.get("environment") or {}
                                                           for svc in compose["services"].values()]
    for env in envs:
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|FERNET|TOKEN|BASIC_AUTH|_CONN", key) and not key.endswith("_FILE"):
                assert str(value).startswith("${") or "${" in str(value), (key, value)  # from .env only
    assert "airflow:airflow@" not in text
    example = (REPO / ".env.example").read_text()
    for line in example.splitlines():
        key, _, value = line.partition("=")
        if re.search(r"PASSWORD|SECRET|FERNET_KEY|BASIC_AUTH|ALERTS_", key) and not key.startswith("#"):
            assert value.split("#")[0].strip() == "", f".env.example has a value for {key}"
    # every ${VAR} the compose file reads is documented in .env.example
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    documented = {ln.split("=", 1)[0] for ln in example.splitlines() if "=" in ln and not ln.startswith("#")}
    assert used <= documented, sorted(used - documented)
    docker = (REPO / "Dockerfile").read_text()
    assert "pip install -c requirements.lock '.[postgres]'" in docker
    assert not re.search(r"(?i)(password|secret)\s*=", docker)
    ignore = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", "var", ".git"} <= set(ignore)


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or Debian's `docker-compose` 1.29, whichever is installed."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [shutil.which("docker-compose")] if shutil.which("docker-compose") else None


def test_docker_compose_config_when_available(tmp_path):
    cmd = compose_command()
    if cmd is None:
        pytest.skip("neither docker compose nor docker-compose installed; validated by the YAML checks above")
    env = tmp_path / ".env"
    dirs = "\n".join(f"{k}={tmp_path / k.lower()}" for k in ("CLEARCAP_LANDING_DIR", "CLEARCAP_WAREHOUSE_DIR",
                                                              "CLEARCAP_STATE_DIR"))
    env.write_text(dirs + "\n" + "\n".join(f"{k}=x" for k in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_JWT_SECRET",
                                                 "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY",
                                                 "AIRFLOW_ADMIN_PASSWORD", "FLOWER_BASIC_AUTH")) + "\n")
    proc = subprocess.run([*cmd, "--env-file", str(env), "-f", str(REPO / "docker-compose.yml"),
                           "config", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # an unfilled copy of .env.example is refused, naming a missing setting
    proc = subprocess.run([*cmd, "--env-file", str(REPO / ".env.example"), "-f", str(REPO / "docker-compose.yml"),
                           "config", "--quiet"], capture_output=True, text=True)
    assert proc.returncode != 0 and re.search(r"set [A-Z_]+ in \.env", proc.stderr), proc.stderr


def check_settings():
    """(SECRETS, problems) of deploy/check_settings.py, airflow-init's settings check."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_settings", REPO / "deploy" / "check_settings.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.SECRETS, mod.problems


def read_env_file_like_compose_129(text: str) -> dict[str, str]:
    """docker-compose 1.29's .env parsing: the value is everything after the first `=`."""
    return {k: v for k, _, v in (ln.partition("=") for ln in text.splitlines()
                                 if ln.strip() and not ln.lstrip().startswith("#"))}


def test_env_example_cannot_be_half_filled():
    example = read_env_file_like_compose_129((REPO / ".env.example").read_text())
    for key, value in example.items():
        assert "#" not in value and value == value.strip(), f".env.example: {key}: comment or blanks in the value"
    # a copy left unfilled: the compose guards fire (empty values) and airflow-init names them all
    required = re.findall(r"\$\{([A-Z_]+):\?", (REPO / "docker-compose.yml").read_text())
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "CLEARCAP_STATE_DIR"} <= set(required)
    assert all(example[k] == "" for k in required), [k for k in required if example[k]]
    SECRETS, problems = check_settings()
    found = problems(example)
    assert [p.split()[0] for p in found] == list(SECRETS)


def test_check_settings_names_placeholders_and_accepts_generated_secrets():
    import base64
    import os
    import secrets

    SECRETS, problems = check_settings()
    good = {k: secrets.token_urlsafe(48) for k in SECRETS}
    good["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert problems(good) == []
    for bad in ("# REQUIRED", "REQUIRED", "changeme-changeme-changeme-changeme", "<password>", "two words here"):
        found = problems({**good, "REDIS_PASSWORD": bad})
        assert len(found) == 1 and found[0].startswith("REDIS_PASSWORD ") and "placeholder" in found[0], (bad, found)
        assert bad not in found[0]  # values are never printed
    assert problems({**good, "AIRFLOW_JWT_SECRET": "a" * 31}) == ["AIRFLOW_JWT_SECRET must have at least 32 characters"]
    [msg] = problems({**good, "AIRFLOW_FERNET_KEY": secrets.token_urlsafe(48)})
    assert msg.startswith("AIRFLOW_FERNET_KEY is not a Fernet key")
    init = (REPO / "deploy" / "airflow-init.sh").read_text()
    assert init.index("check_settings.py") < init.index("airflow db migrate")
    # airflow-init gets every checked secret under its .env name
    compose_env = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["airflow-init"]["environment"]
    assert all(compose_env[k] == f"${{{k}:?set {k} in .env}}" for k in SECRETS)


def test_dockerfile_base_image_and_pip_index_arguments():
    docker = (REPO / "Dockerfile").read_text()
    lines = [ln.strip() for ln in docker.splitlines()]
    assert lines.index("ARG BASE_IMAGE=python:3.11-slim-bookworm") < lines.index("FROM ${BASE_IMAGE}")
    # pip's settings as arguments without defaults: unset means pip's own default (PyPI)
    for arg in ("PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"):
        assert f"ARG {arg}" in lines, arg
    build = yaml.safe_load((REPO / "docker-compose.yml").read_text())["x-airflow-common"]["build"]
    assert build["args"]["BASE_IMAGE"] == "${CLEARCAP_BASE_IMAGE:-python:3.11-slim-bookworm}"



def test_superset_profile_reads_the_published_files_and_history_only(compose):
    sup = compose["services"]["superset"]
    assert sup["profiles"] == ["superset"]
    # its own image, never the project's
    assert sup["build"]["context"] == "deploy/superset" and "CLEARCAP_IMAGE" not in sup["image"]
    assert "${CLEARCAP_WAREHOUSE_DIR:?set CLEARCAP_WAREHOUSE_DIR in .env}:/data/warehouse:ro" in sup["volumes"]
    # of the state, only the item-level history the published items.* views read, read-only
    assert [v for v in sup["volumes"] if "STATE" in v or "LANDING" in v] == [
        "${CLEARCAP_STATE_DIR:?set CLEARCAP_STATE_DIR in .env}/history:/data/state/history:ro"]
    assert "/data/state/history" in (REPO / "deploy" / "airflow-init.sh").read_text()
    root = REPO / "deploy" / "superset" / "dashboards" / "clearcap"
    [db] = [yaml.safe_load(p.read_text()) for p in (root / "databases").glob("*.yaml")]
    assert db["sqlalchemy_uri"] == "duckdb:////data/warehouse/warehouse.duckdb"
    assert db["extra"]["engine_params"]["connect_args"] == {"read_only": True}
    assert not db["allow_dml"] and not db["allow_csv_upload"]
    datasets = {d["uuid"]: d for d in (yaml.safe_load(p.read_text()) for p in (root / "datasets").rglob("*.yaml"))}
    assert {d["table_name"] for d in datasets.values()} == {"national_daily", "office_daily", "customs_dwell_daily",
                                                           "capacity_outlook"}
    assert {d["schema"] for d in datasets.values()} == {"mart"} and {d["database_uuid"] for d in datasets.values()} == {db["uuid"]}
    charts = [yaml.safe_load(p.read_text()) for p in (root / "charts").glob("*.yaml")]
    assert {c["dataset_uuid"] for c in charts} == set(datasets)
    [dash] = [yaml.safe_load(p.read_text()) for p in (root / "dashboards").glob("*.yaml")]
    on_dashboard = {v["meta"]["uuid"] for v in dash["position"].values() if isinstance(v, dict) and v.get("type") == "CHART"}
    assert on_dashboard == {c["uuid"] for c in charts}
    # no chart data cached across a publish
    config = (REPO / "deploy" / "superset" / "superset_config.py").read_text()
    assert 'DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}' in config
    # the same DuckDB reads the warehouse in Superset as writes it in the pipeline
    def pins(path):
        pairs = (ln.split(" ;")[0].split("==") for ln in path.read_text().splitlines() if "==" in ln and ln[0] != "#")
        return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}
    ss, project = pins(REPO / "deploy" / "superset" / "requirements.lock"), pins(REPO / "requirements.lock")
    assert ss["apache-superset"] == "6.1.0" and ss["duckdb"] == project["duckdb"]
    assert ss["duckdb-engine"] == project["duckdb-engine"]
