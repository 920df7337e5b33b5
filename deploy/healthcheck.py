"""Health checks of the compose services that do not load Airflow.

    healthcheck.py job DagProcessorJob|TriggererJob  a running job of that type on this host whose
                                                    heartbeat is within Airflow's threshold
    healthcheck.py celery [NODE]                    the Celery worker NODE (default celery@$HOSTNAME,
                                                    this container's) answers a ping

Airflow's own compose file checks these services with `airflow jobs check` and `celery --app
airflow...celery_executor.app inspect ping`, which import Airflow first: about 3 s of CPU each,
every interval, in five containers (a quarter of a 2-core host at a 30 s interval, and the
interval is why a stack took a minute to turn healthy). These read the same facts directly:
`job` queries the metadata table `job` as `airflow jobs check --job-type T --hostname $HOSTNAME`
does (state running, heartbeat younger than the component's health_check_threshold, 30 s unless
set); `celery` pings through the broker with a bare Celery app (a ping needs only the broker:
the control exchange is Celery's default, which Airflow does not change). When the database or
broker URL is not in the environment as a plain URL (a _CMD or _SECRET setting), the Airflow
command runs instead. Exit 0 when healthy, 1 with the reason on stderr otherwise.
"""
from __future__ import annotations

import os
import socket
import sys

THRESHOLDS = {  # job type -> (setting that overrides it, Airflow's default in seconds)
    "DagProcessorJob": ("AIRFLOW__DAG_PROCESSOR__HEALTH_CHECK_THRESHOLD", 30.0),
    "TriggererJob": ("AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD", 30.0),
}


def _hostname() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()


def _fallback(argv: list[str]) -> int:
    os.execvp(argv[0], argv)
    return 1  # not reached


def check_job(job_type: str) -> int:
    if job_type not in THRESHOLDS:
        print(f"unknown job type {job_type!r}; one of {', '.join(THRESHOLDS)}", file=sys.stderr)
        return 2
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not url.startswith(("postgresql://", "postgresql+psycopg2://")):
        return _fallback(["airflow", "jobs", "check", "--job-type", job_type, "--hostname", _hostname()])
    import psycopg2

    setting, default = THRESHOLDS[job_type]
    threshold = float(os.environ.get(setting) or default)
    dsn = "postgresql://" + url.split("://", 1)[1]
    with psycopg2.connect(dsn, connect_timeout=5) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM job WHERE job_type = %s AND hostname = %s AND state = 'running' "
                    "AND latest_heartbeat > now() - make_interval(secs => %s)",
                    [job_type, _hostname(), threshold])
        alive = cur.fetchone()[0]
    con.close()
    if not alive:
        print(f"no running {job_type} on {_hostname()} with a heartbeat in the last {threshold:g} s",
              file=sys.stderr)
        return 1
    return 0


def check_celery(node: str | None = None) -> int:
    broker = os.environ.get("AIRFLOW__CELERY__BROKER_URL", "")
    node = node or f"celery@{_hostname()}"
    if not broker:
        return _fallback(["celery", "--app", "airflow.providers.celery.executors.celery_executor.app",
                          "inspect", "ping", "-d", node])
    from celery import Celery

    replies = Celery(broker=broker).control.ping(destination=[node], timeout=5.0)
    if not any(node in r for r in replies):
        print(f"{node} did not answer a ping", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["job"] and len(argv) == 2:
        return check_job(argv[1])
    if argv[:1] == ["celery"] and len(argv) <= 2:
        return check_celery(*argv[1:])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
