"""One real Airflow run of clearance_nightly for one demo day (temp landing zone, temp
AIRFLOW_HOME with SQLite metadata), through the same runner as the main job, with the alerts
notifier's webhook and e-mail connections pointing at local receivers."""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone

import pytest

from test_notify import HttpReceiver, SmtpReceiver  # local receivers on 127.0.0.1
from transforms.orchestration import DAG_ID, airflow_env, ensure_airflow_db, run_days

pytestmark = pytest.mark.airflow

DAY = date(2026, 3, 2)


def test_one_day_through_airflow(tmp_path):
    from transforms import demo
    landing, warehouse = tmp_path / "landing", tmp_path / "out" / "warehouse.duckdb"
    demo.generate(landing, start=DAY, days=2, scale=0.02)
    with HttpReceiver() as hook, SmtpReceiver() as smtp:
        # the alerts notifier's channels (transforms.notify) as Airflow connections
        env = dict(airflow_env(tmp_path / "airflow", landing, warehouse),
                   AIRFLOW_CONN_CLEARCAP_ALERTS_WEBHOOK=hook.url, AIRFLOW_CONN_CLEARCAP_ALERTS_SMTP=smtp.conn_uri())

        assert ensure_airflow_db(env) is True
        assert ensure_airflow_db(env) is False  # idempotent, no second migrate

        started = datetime.now(timezone.utc)
        [result] = run_days(DAY, DAY, env, progress=None)
        finished = datetime.now(timezone.utc)
        assert result.state == "success", result

        # the publish task's notifier sent the night's alerts, once to each channel
        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as con:
            n_alerts = con.execute("select count(*) from mart.alerts where as_of_date=?", [DAY]).fetchone()[0]
        assert n_alerts > 0, "the demo day raises alerts (missing office, quarantined files)"
        published = [json.loads(b) for b in hook.received]
        assert [p["event"] for p in published] == ["published"]
        assert published[0]["run_id"] == result.run_id and len(published[0]["alerts"]) == n_alerts
        assert len(smtp.messages) == 1

    con = sqlite3.connect(tmp_path / "airflow" / "airflow.db")
    try:
        runs = con.execute("select run_id, state, conf from dag_run where dag_id=?", (DAG_ID,)).fetchall()
        assert [(r[0], r[1]) for r in runs] == [(result.run_id, "success")]
        assert json.loads(runs[0][2])["operating_day"] == DAY.isoformat()
        # issue 13.12: the run's recorded start and end are wall-clock times of this run, not
        # its logical date (the UI's run durations)
        start, end, logical = con.execute("select start_date, end_date, logical_date from dag_run "
                                          "where run_id=?", (result.run_id,)).fetchone()
        states = dict(con.execute("select task_id, max(state) from task_instance where run_id=? group by task_id",
                                  (result.run_id,)).fetchall())
        planned = json.loads(con.execute("select value from xcom where run_id=? and task_id='plan'",
                                         (result.run_id,)).fetchone()[0])
        ingest = con.execute("select map_index, state from task_instance where run_id=? and task_id='ingest'",
                             (result.run_id,)).fetchall()
    finally:
        con.close()

    start, end = (datetime.fromisoformat(v).replace(tzinfo=timezone.utc) for v in (start, end))
    assert start != datetime.fromisoformat(logical).replace(tzinfo=timezone.utc)
    assert started <= start <= end <= finished, (started, start, end, finished)
    assert (end - start).total_seconds() <= result.seconds + 5

    for task_id in ("plan", "load", "build_staging", "build_core", "build_marts", "validate_marts", "publish"):
        assert states[task_id] == "success", (task_id, states)
    assert states["dashboard"] in ("success", "skipped")
    # one mapped ingest instance per planned group of files, all successful
    files = [entry for group in planned for entry in group]
    assert len(planned) == 2 and len(files) > 2  # CLEARCAP_INGEST_CHUNKS default
    assert sorted(i for i, _ in ingest) == list(range(len(planned)))
    assert {s for _, s in ingest} == {"success"}
    assert all(not p["path"].endswith((".part", ".tmp")) for p in files)
    assert all(p["folder_date"] is None or p["folder_date"] <= DAY.isoformat() for p in files)
    assert (tmp_path / "out" / "warehouse_dashboard.html").is_file()

    # the warehouse was published: a DuckDB file analysts open read-only, with schema mart
    assert warehouse.is_file()
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as db:
        tables = {r[0] for r in db.execute(
            "select table_name from information_schema.tables where table_schema='mart'").fetchall()}
    assert {"office_daily", "national_daily"} <= tables
