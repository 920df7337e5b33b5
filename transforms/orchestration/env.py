"""Environment of the embedded default Airflow (SQLite metadata under var/airflow).

Nothing here imports Airflow: the environment must be fixed before Airflow is imported,
so the runners start Airflow in child processes with this environment.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
DEFAULT_HOME = REPO_ROOT / "var" / "airflow"
DAG_ID = "clearance_nightly"

_SECRETS_FILE = "clearcap_secrets.json"
_MIGRATED_MARKER = ".clearcap_migrated"


def _airflow_bin() -> str:
    """The `airflow` console script of the running interpreter's environment."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _secrets(home: Path) -> dict[str, str]:
    """JWT secret and API secret key: generated once, kept in AIRFLOW_HOME (mode 0600).

    Every Airflow process of one installation must share them (task runners call the
    execution API with JWTs signed by the scheduler/executor)."""
    path = home / _SECRETS_FILE
    with _locked(home / ".secrets.lock"):
        if path.exists():
            return json.loads(path.read_text())
        values = {"jwt_secret": secrets.token_urlsafe(48), "api_secret_key": secrets.token_urlsafe(32)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh)
        return values


def airflow_env(home: Path | str | None = None, landing: Path | str | None = None,
                warehouse: Path | str | None = None, *, base: dict[str, str] | None = None) -> dict[str, str]:
    """Full process environment (base: os.environ) for the embedded default Airflow.

    home defaults to <repo>/var/airflow; landing/warehouse default to CLEARCAP_LANDING /
    CLEARCAP_WAREHOUSE or var/landing, var/warehouse.duckdb, made absolute (Airflow task
    processes do not run in the repository)."""
    env = dict(os.environ if base is None else base)
    home = Path(home or env.get("CLEARCAP_AIRFLOW_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    landing = Path(landing or env.get("CLEARCAP_LANDING") or REPO_ROOT / "var" / "landing").resolve()
    warehouse = Path(warehouse or env.get("CLEARCAP_WAREHOUSE") or REPO_ROOT / "var" / "warehouse.duckdb").resolve()
    sec = _secrets(home)
    pythonpath = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO_ROOT) not in pythonpath:
        pythonpath.append(str(REPO_ROOT))  # user entries first, then the repository (transforms)
    # Drop inherited AIRFLOW__* settings so that a shell configured for another Airflow
    # cannot leak into the embedded one; explicit settings below.
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # Local single-user install: the UI/API (airflow standalone) listens on loopback only
        # and every user is admin, so no password is needed; the CLI talks to the DB directly.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": env.get("CLEARCAP_AIRFLOW_PORT", "8080"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
            f"http://127.0.0.1:{env.get('CLEARCAP_AIRFLOW_PORT', '8080')}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": sec["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": sec["api_secret_key"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "CLEARCAP_AIRFLOW_HOME": str(home),
        "CLEARCAP_LANDING": str(landing),
        "CLEARCAP_WAREHOUSE": str(warehouse),
        "PYTHONPATH": os.pathsep.join(pythonpath),
    })
    return env


def _sqlite_path(env: dict[str, str]) -> Path:
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert conn.startswith("sqlite:///"), conn
    return Path(conn[len("sqlite:///"):])


def _is_migrated(env: dict[str, str]) -> bool:
    home = Path(env["AIRFLOW_HOME"])
    db = _sqlite_path(env)
    marker = home / _MIGRATED_MARKER
    if not (db.exists() and marker.exists()):
        return False
    if marker.read_text().strip() != f"{metadata.version('apache-airflow-core')} {db}":
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("select count(*) from alembic_version").fetchone()[0] == 1
        finally:
            con.close()
    except sqlite3.Error:
        return False


def _set_wal(db: Path) -> None:
    """WAL journal (persistent in the file): readers (CLI, UI) and the one writer of the
    embedded default stop blocking each other; fewer 'database is locked' errors."""
    con = sqlite3.connect(db, timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def ensure_airflow_db(env: dict[str, str]) -> bool:
    """Run `airflow db migrate` unless this home was already migrated by this Airflow version.

    Idempotent and safe against concurrent callers (file lock). Returns True when it migrated."""
    home = Path(env["AIRFLOW_HOME"])
    with _locked(home / ".migrate.lock"):
        if _is_migrated(env):
            return False
        proc = subprocess.run([_airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        _set_wal(_sqlite_path(env))
        (home / _MIGRATED_MARKER).write_text(f"{metadata.version('apache-airflow-core')} {_sqlite_path(env)}\n")
        return True
