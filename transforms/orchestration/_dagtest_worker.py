"""Child process of run_days(mode="dagtest"): one Airflow process, one dag.test() per day.

Started with the airflow_env() environment (Airflow reads its configuration at import).
argv: FIRST LAST RESULTS_JSONL LOG_DIR. Writes one JSON line per day to RESULTS_JSONL and
the Airflow output of each day to LOG_DIR/<day>.log (fd 1 and 2 redirected per day). Stops
at the first day that does not succeed (later days depend on it)."""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path


def _redirect(path: Path | None, saved: tuple[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if path is None:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _fast_sqlite() -> None:
    """WAL journal + synchronous=NORMAL on every SQLite connection of this process.

    Registered on the Engine class before Airflow creates its engine. WAL also lets readers
    (airflow CLI, UI) read while this process writes. Durable across process crashes; only an
    OS crash can lose the last commits of the run history (SQLite metadata is a scratch DB for
    the embedded default; the warehouse does not depend on it)."""
    if os.environ.get("CLEARCAP_SQLITE_PRAGMAS", "1") != "1":
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001
        if "sqlite" in type(dbapi_conn).__module__:  # sqlite3 and the aiosqlite adapter
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()


def _real_start_dates() -> None:
    """dag.test() creates its DagRun with start_date = the logical date (02:00 on the operating
    day), so the UI's run durations read as days. Airflow's dag.test looks its run factory up
    in airflow.models.dagrun at each call: wrap it to start the run now, as it really does."""
    from airflow.models import dagrun
    from airflow.sdk import timezone

    create = dagrun.get_or_create_dagrun
    if getattr(create, "_real_start", False):
        return

    def get_or_create_dagrun(**kwargs):
        kwargs["start_date"] = timezone.utcnow()
        return create(**kwargs)

    get_or_create_dagrun._real_start = True
    dagrun.get_or_create_dagrun = get_or_create_dagrun


def main(argv: list[str]) -> int:
    first, last = date.fromisoformat(argv[0]), date.fromisoformat(argv[1])
    results, log_dir = Path(argv[2]), Path(argv[3])
    log_dir.mkdir(parents=True, exist_ok=True)
    saved = (os.dup(1), os.dup(2))

    t0 = time.monotonic()
    _redirect(log_dir / "_setup.log", saved)
    _fast_sqlite()
    import pendulum
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.session import create_session

    from transforms.orchestration.env import DAG_ID
    from transforms.orchestration.runtime import LOCAL_TZ

    dag = get_bagged_dag(None, DAG_ID)
    _real_start_dates()
    setup_s = time.monotonic() - t0

    day = first
    with open(results, "a") as out:
        out.write(json.dumps({"setup_seconds": round(setup_s, 3)}) + "\n")
        out.flush()
        while day <= last:
            log_path = log_dir / f"{day.isoformat()}.log"
            _redirect(log_path, saved)
            t = time.monotonic()
            error = None
            try:
                # Logical date = 02:00 local on the operating day, like the scheduled run for it.
                dr = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, 2, tz=LOCAL_TZ),
                              run_conf={"operating_day": day.isoformat()})
                run_id, state = dr.run_id, str(dr.state)
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                import traceback

                traceback.print_exc()
                run_id, state, error = None, "failed", f"{type(exc).__name__}: {exc}"
            seconds = time.monotonic() - t
            tasks = {}
            if run_id is not None:
                with create_session() as session:
                    for ti in session.scalars(select(TaskInstance).where(
                            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)):
                        tasks.setdefault(ti.task_id, []).append({"map_index": ti.map_index, "state": str(ti.state)})
            _redirect(None, saved)
            rec = {"operating_day": day.isoformat(), "run_id": run_id, "state": state,
                   "seconds": round(seconds, 3), "log": str(log_path), "tasks": tasks, "error": error}
            out.write(json.dumps(rec) + "\n")
            out.flush()
            if state != "success":
                return 1
            day += timedelta(days=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
