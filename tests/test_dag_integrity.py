"""DAG integrity: clearance_nightly parses, is wired as designed, and parsing stays light.

Airflow is imported only in a child process configured by airflow_env() (temporary
AIRFLOW_HOME), so this test never touches ~/airflow or var/airflow."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone

import pytest

from transforms.orchestration.env import DAGS_FOLDER, airflow_env
from transforms.orchestration.runtime import operating_day

PROBE = textwrap.dedent(r"""
    import json, sys, time
    t0 = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag
    import_s = time.perf_counter() - t0
    before = set(sys.modules)
    t1 = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    parse_s = time.perf_counter() - t1
    loaded = set(sys.modules) - before
    dag = bag.dags.get("clearance_nightly")
    out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()},
           "dag_ids": sorted(bag.dags), "parse_s": parse_s, "airflow_import_s": import_s,
           "heavy": sorted(m for m in loaded if m.split(".")[0] in
                           ("duckdb", "great_expectations", "polars", "pandas", "pyarrow", "fastexcel",
                            "openpyxl", "duckdb_engine") or m.startswith("transforms.")
                           and m not in ("transforms.orchestration", "transforms.orchestration.runtime"))}
    if dag is not None:
        import pendulum
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.timetables.base import DataInterval, TimeRestriction
        from transforms.orchestration.runtime import operating_day
        tz = pendulum.timezone("Asia/Shanghai")
        tt = coerce_to_core_timetable(dag.timetable)
        info = tt.next_dagrun_info(
            last_automated_data_interval=DataInterval(pendulum.datetime(2026, 11, 23, 2, tz=tz),
                                                      pendulum.datetime(2026, 11, 24, 2, tz=tz)),
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True))
        manual = tt.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 25, tz="UTC"))
        out.update({
            "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
            "trigger_rules": {t.task_id: getattr(t.trigger_rule, "value", t.trigger_rule) for t in dag.tasks},
            "retries": {t.task_id: t.retries for t in dag.tasks},
            "mapped": sorted(t.task_id for t in dag.tasks
                            if any(c.__name__ == "MappedOperator" for c in type(t).__mro__)),
            "timetable": type(dag.timetable).__name__,
            "expression": getattr(dag.timetable, "expression", None),
            "tz": str(dag.timezone), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags), "params": sorted(dag.params.keys()),
            "scheduled_run_after": info.run_after.in_timezone(tz).isoformat(),
            "scheduled_logical": info.logical_date.in_timezone(tz).isoformat(),
            "scheduled_day": operating_day({}, info.logical_date).isoformat(),
            "manual_interval_start": manual.start.in_timezone(tz).isoformat(),
        })
    print("PROBE" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    env = airflow_env(home, home / "landing", home / "warehouse.duckdb")
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS_FOLDER)], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[len("PROBE"):])


def test_dagbag_has_no_import_errors(probe):
    assert probe["import_errors"] == {}
    assert "clearance_nightly" in probe["dag_ids"]


def test_tasks_and_dependencies(probe):
    assert probe["tasks"] == {
        "plan": ["ingest"],
        "ingest": ["load"],
        "load": ["build_staging"],
        "build_staging": ["build_core"],
        "build_core": ["build_marts"],
        "build_marts": ["validate_marts"],
        "validate_marts": ["publish"],
        "publish": ["compact_history", "dashboard"],
        "dashboard": [],
        "compact_history": [],
    }
    assert probe["mapped"] == ["ingest"]  # one mapped instance per planned group of files
    assert probe["trigger_rules"]["load"] == "none_failed"  # 0 files: ingest skipped, load still runs


def test_schedule_timezone_and_concurrency(probe):
    assert probe["timetable"] == "CronDataIntervalTimetable"
    assert probe["expression"] == "0 2 * * *"
    assert probe["tz"] == "Asia/Shanghai"
    assert probe["catchup"] is False
    assert probe["max_active_runs"] == 1
    assert "clearcap" in probe["tags"]
    assert {"operating_day", "landing", "warehouse"} <= set(probe["params"])


def test_retries(probe):
    for task_id, retries in probe["retries"].items():
        expected = 0 if task_id in ("validate_marts", "dashboard") else 2
        assert retries == expected, task_id


def test_scheduled_run_processes_previous_operating_day(probe):
    # The run that starts at 02:00 on 2026-11-25 (Shanghai) processes 2026-11-24.
    assert probe["scheduled_run_after"] == "2026-11-25T02:00:00+08:00"
    assert probe["scheduled_logical"] == "2026-11-24T02:00:00+08:00"
    assert probe["scheduled_day"] == "2026-11-24"


def test_parse_is_fast_and_light(probe):
    assert probe["parse_s"] < 2.0, probe["parse_s"]
    assert probe["heavy"] == [], f"parsing imported heavy modules: {probe['heavy']}"


def test_operating_day_rules():
    utc = timezone.utc
    # param wins
    assert operating_day({"operating_day": "2026-11-03"}, datetime(2026, 11, 25, tzinfo=utc)) == date(2026, 11, 3)
    # `airflow dags test clearance_nightly 2026-11-25`: logical date 00:00 UTC = 08:00 Shanghai
    assert operating_day({}, datetime(2026, 11, 25, tzinfo=utc)) == date(2026, 11, 25)
    # scheduled / backfill run: logical date = data interval start = D 02:00+08:00 = D-1 18:00 UTC
    assert operating_day({"operating_day": None}, datetime(2026, 11, 23, 18, tzinfo=utc)) == date(2026, 11, 24)
    # trigger without logical date at 2026-11-25 10:00 Shanghai: the previous (complete) day
    assert operating_day({}, None, datetime(2026, 11, 25, 2, tzinfo=utc)) == date(2026, 11, 24)


def test_run_error_names_failed_task_and_log():
    from transforms.orchestration.runner import AirflowRunError, DayResult

    r = DayResult(date(2026, 11, 24), "manual__x", "failed", 1.0, "/tmp/x/2026-11-24.log",
                  {"plan": [{"map_index": -1, "state": "success"}],
                   "ingest": [{"map_index": 0, "state": "success"}, {"map_index": 1, "state": "failed"}],
                   "load": [{"map_index": -1, "state": "upstream_failed"}]})
    msg = str(AirflowRunError(r))
    assert "failed task(s): ingest;" in msg and "/tmp/x/2026-11-24.log" in msg and "2026-11-24" in msg
