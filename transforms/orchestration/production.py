"""Production tier: Airflow on PostgreSQL with the CeleryExecutor and a Redis broker, as local
processes (the docker-compose.yml deployment without Docker; for tests and operators).

`production_env()` is `airflow_env()` (embedded default) with the settings of the compose
file's shared block (`x-airflow-common`) on top: `COMPOSE_SETTINGS` below are the values both
use, and tests/test_compose_file.py checks the compose file carries the same ones.
`Cluster` starts api-server, scheduler, dag-processor and Celery workers as child processes
(each in its own process group, on 127.0.0.1), and stops every one of them (context manager,
and an atexit hook for interpreter exits). `scratch_database()` creates and drops a fresh
metadata database. Nothing here imports Airflow.

Operators (no Docker):
    python -m transforms.orchestration.production env --db-url postgresql+psycopg2://... \\
        --broker-url redis://127.0.0.1:6379/0     # prints `export ...` lines
"""
from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from transforms.orchestration.env import DAG_ID, _airflow_bin, airflow_env

# Settings shared with docker-compose.yml (x-airflow-common environment), same names, same values.
COMPOSE_SETTINGS: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
    "CLEARCAP_INGEST_QUEUE": "ingest",
    "CLEARCAP_WRITER_QUEUE": "writer",
    "CLEARCAP_INGEST_CHUNKS": "4",
    # each worker imports the pipeline once; the task processes it forks inherit it (preload.py)
    "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": '{"imports": ["transforms.orchestration.preload"]}',
}
# Celery queues: the writer worker serves both (it runs load .. publish, the single DuckDB
# writer), scaled-out workers only `ingest` (the mapped per-file reading and checking).
WRITER_QUEUES = "writer,ingest"
INGEST_QUEUES = "ingest"

_CHILDREN: list["Proc"] = []


def worker_hostname() -> str:
    """[core] hostname_callable: CLEARCAP_WORKER_HOSTNAME when set (several workers on one
    machine record distinct task_instance.hostname), else the FQDN (containers: their hostname)."""
    return os.environ.get("CLEARCAP_WORKER_HOSTNAME") or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def production_env(home: Path | str, landing: Path | str, warehouse: Path | str, *, db_url: str,
                   broker_url: str, api_port: int | None = None, base: dict[str, str] | None = None,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """Process environment of every Airflow process of the production tier on this machine.

    db_url: SQLAlchemy URL of the metadata DB (postgresql+psycopg2://...); the Celery result
    backend uses the same database. Secrets (JWT, API key) are generated once per AIRFLOW_HOME
    by airflow_env() and shared by every process, as the compose file shares them from .env."""
    env = airflow_env(home, landing, warehouse, base=base)
    port = api_port or int(env.get("AIRFLOW__API__PORT", "8080"))
    result_db = db_url.split("://", 1)[1]
    env.update(COMPOSE_SETTINGS)
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{result_db}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "transforms.orchestration.production.worker_hostname",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # compose: True (port 8974 in the container)
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__TRIGGERER__DEFAULT_CAPACITY": "100",
    })
    env.update(extra or {})
    return env


# -- metadata database ------------------------------------------------------------------------

@contextmanager
def scratch_database(admin_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
                     prefix: str = "clearcap_test") -> Iterator[str]:
    """Create a fresh, uniquely named database; yield its SQLAlchemy URL; drop it (and its
    connections) afterwards."""
    import psycopg2
    from psycopg2 import sql

    name = f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    con = psycopg2.connect(admin_dsn)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        base = admin_dsn.rsplit("/", 1)[0].split("://", 1)[1]
        try:
            yield f"postgresql+psycopg2://{base}/{name}"
        finally:
            with con.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    finally:
        con.close()


def query(db_url: str, sql: str, args: tuple = ()) -> list[tuple]:
    """Read-only helper over the metadata DB (psycopg2)."""
    import psycopg2

    dsn = "postgresql://" + db_url.split("://", 1)[1]
    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        con.close()


def migrate(env: dict[str, str], timeout: float = 600) -> None:
    proc = subprocess.run([_airflow_bin(), "db", "migrate"], env=env, cwd=env["AIRFLOW_HOME"],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def airflow(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([_airflow_bin(), *args], env=env, cwd=env["AIRFLOW_HOME"], capture_output=True,
                          text=True, timeout=timeout)


# -- processes --------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _stop(procs: list[Proc], grace: float = 30) -> None:
    for p in procs:  # each started in its own session: signal its process group only
        if p.alive():
            try:
                os.killpg(p.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:  # also the group's stragglers (task processes forked by a worker)
            os.killpg(p.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if p in _CHILDREN:
            _CHILDREN.remove(p)


@atexit.register
def _stop_leftovers() -> None:
    _stop(list(_CHILDREN), grace=10)


@dataclass
class Cluster:
    """api-server, scheduler, dag-processor and Celery workers as local processes.

    workers: (hostname, queues) per worker; each gets `-H celery-<hostname>@...`,
    CLEARCAP_WORKER_HOSTNAME=<hostname> (task_instance.hostname) and --skip-serve-logs."""
    env: dict[str, str]
    log_dir: Path
    workers: list[tuple[str, str]] = field(default_factory=lambda: [("clearcap-worker-1", WRITER_QUEUES),
                                                                   ("clearcap-worker-2", INGEST_QUEUES)])
    concurrency: int = 1
    procs: list[Proc] = field(default_factory=list)

    def start_one(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        fh = open(log, "w")
        try:
            popen = subprocess.Popen([_airflow_bin(), *args], env={**self.env, **(extra_env or {})},
                                     cwd=self.env["AIRFLOW_HOME"], stdout=fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            fh.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        _CHILDREN.append(proc)
        return proc

    def start(self) -> "Cluster":
        self.start_one("api-server", ["api-server"])
        self.start_one("dag-processor", ["dag-processor"])
        self.start_one("scheduler", ["scheduler"])
        for host, queues in self.workers:
            self.start_one(host, ["celery", "worker", "--celery-hostname", f"{host}@%h", "--queues", queues,
                                  "--concurrency", str(self.concurrency), "--skip-serve-logs"],
                           {"CLEARCAP_WORKER_HOSTNAME": host})
        return self

    def stop(self) -> None:
        _stop(self.procs)

    def __enter__(self) -> "Cluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_alive(self) -> None:
        dead = [p for p in self.procs if not p.alive()]
        if dead:
            raise RuntimeError("; ".join(f"{p.name} exited {p.popen.returncode}:\n{p.tail()}" for p in dead))

    def logs(self, n: int = 2500) -> str:
        return "\n".join(f"===== {p.name} ({p.log})\n{p.tail(n)}" for p in self.procs)

    def wait_api(self, timeout: float = 120) -> None:
        url = f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"api-server not healthy at {url}\n{self.logs()}")
            time.sleep(0.5)

    def wait_workers(self, timeout: float = 120) -> None:
        """Until every worker answered a Celery ping (it consumes its queues)."""
        names = {f"{host}@" for host, _ in self.workers}
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            proc = subprocess.run([sys.executable, "-m", "celery", "--app",
                                   "airflow.providers.celery.executors.celery_executor.app", "inspect", "ping",
                                   "--timeout", "2", "--json"], env=self.env, capture_output=True, text=True)
            if all(n in proc.stdout for n in names):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"celery workers {sorted(names)} did not answer: {proc.stdout} {proc.stderr[-2000:]}"
                                   f"\n{self.logs()}")
            time.sleep(1)

    def wait_dag(self, db_url: str, dag_id: str = DAG_ID, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not query(db_url, "select 1 from serialized_dag where dag_id=%s", (dag_id,)):
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"dag-processor did not register {dag_id}\n{self.logs()}")
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m transforms.orchestration.production")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("env", help="print `export ...` lines of the production-tier environment")
    p.add_argument("--home", default=os.environ.get("AIRFLOW_HOME") or "var/airflow-prod")
    p.add_argument("--landing", default=os.environ.get("CLEARCAP_LANDING") or "var/landing")
    p.add_argument("--warehouse", default=os.environ.get("CLEARCAP_WAREHOUSE") or "var/warehouse.duckdb")
    p.add_argument("--db-url", required=True, help="postgresql+psycopg2://user[:pw]@host:5432/airflow")
    p.add_argument("--broker-url", required=True, help="redis://host:6379/0")
    p.add_argument("--api-port", type=int, default=8080)
    args = ap.parse_args(argv)
    env = production_env(args.home, args.landing, args.warehouse, db_url=args.db_url, broker_url=args.broker_url,
                         api_port=args.api_port)
    for k in sorted(env):
        if k.startswith(("AIRFLOW", "CLEARCAP_", "PYTHONPATH")):
            print(f"export {k}={shlex.quote(env[k])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
