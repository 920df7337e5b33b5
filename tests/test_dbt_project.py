"""The dbt project itself: its unit tests (given/expected rows of the marts' formulas), the
lineage page that opens offline, and the state file free for the next step after dbt ran."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from transforms import dbt_runner
from transforms.db import sql_text

DAY = date(2027, 3, 2)


@pytest.fixture(scope="module")
def empty_state(tmp_path_factory):
    """A state with its core tables and the marts dbt created (no rows)."""
    work = tmp_path_factory.mktemp("dbt_project")
    db = work / "state.duckdb"
    with duckdb.connect(str(db)) as c:
        c.execute(sql_text("schema/state.sql"))
    dbt_runner.invoke(db, work / "dbt", DAY, ["run", "--select", "pending_days", "refresh_days", "mart"])
    return db


def test_unit_tests_pass(empty_state):
    res = dbt_runner.invoke(empty_state, empty_state.parent / "dbt", DAY,
                            ["test", "--select", "test_type:unit"])
    names = {r.node.name for r in res.result.results}
    assert {"office_daily_sums_mail_classes_and_rates",
            "customs_dwell_daily_percentiles_and_stock"} <= names
    assert all(str(r.status) == "pass" for r in res.result.results)


def test_a_wrong_expectation_fails(empty_state, tmp_path, monkeypatch):
    """The unit tests compare: the same project with one expected value changed fails."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(dbt_runner.PROJECT_DIR, project)
    tests = project / "models" / "mart" / "_mart_unit_tests.yml"
    tests.write_text(tests.read_text(encoding="utf-8").replace("dwell_p95_h: 43.5", "dwell_p95_h: 43.6"),
                     encoding="utf-8")
    monkeypatch.setattr(dbt_runner, "PROJECT_DIR", project)
    with pytest.raises(dbt_runner.DbtFailed, match="customs_dwell_daily_percentiles_and_stock"):
        dbt_runner.invoke(empty_state, tmp_path / "dbt", DAY, ["test", "--select", "test_type:unit"])


def test_state_file_free_after_dbt(empty_state):
    """dbt-duckdb keeps its connection open after invoke(): the runner closes it, so another
    process (the next Airflow task) and this one, read-only, can open the file."""
    dbt_runner.invoke(empty_state, empty_state.parent / "dbt", DAY, ["run", "--select", "refresh_days"])
    out = subprocess.run([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                          "print(c.execute('SELECT count(*) FROM work.refresh_days').fetchone()[0])",
                          str(empty_state)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    with duckdb.connect(str(empty_state), read_only=True) as c:
        assert c.execute("SELECT d FROM work.refresh_days").fetchall() == [(DAY,)]


def test_lineage_page_opens_offline_and_is_made_once(empty_state, tmp_path):
    out = tmp_path / "warehouse_lineage.html"
    work = empty_state.parent / "dbt"
    assert dbt_runner.publish_lineage(empty_state, work, DAY, out)
    page = out.read_text(encoding="utf-8")
    # manifest and catalog inlined: every model and source of the graph is in the page
    for node in ("model.clearcap.office_daily", "model.clearcap.refresh_days",
                 "source.clearcap.core.clearance"):
        assert node in page
    # nothing fetched from a host: no <script src> or <link href> to http(s)
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page, flags=re.I)
    assert tags and not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t, re.I)]
    # the project has not changed: not made again
    assert not dbt_runner.publish_lineage(empty_state, work, DAY, out)


def test_a_crash_mid_layer_reruns_the_layer_on_the_same_days(tmp_path, monkeypatch):
    """Each mart model commits alone: when one fails, those built before it stay, but
    core.pending_dates and core.runs are untouched, so the rerun recomputes the whole layer
    on the same days and the warehouse equals a run that never failed."""
    import shutil

    from pipeline_helpers import day, diff, make_landing, paths_for, snapshot
    from transforms import pipeline

    landing = make_landing(tmp_path, days=2, scale=0.01, seed=4)
    clean = paths_for(landing, tmp_path / "clean" / "w.duckdb")
    for n in (1, 2):
        pipeline.run_night(clean, day(n))

    crashed = paths_for(landing, tmp_path / "crashed" / "w.duckdb")
    pipeline.run_night(crashed, day(1))
    manifests = pipeline.ingest_files(crashed, pipeline.plan(crashed, day(2)))
    pipeline.load(crashed, day(2), manifests)
    pipeline.build_staging(crashed, day(2))
    pipeline.build_core(crashed, day(2))
    broken = tmp_path / "broken_project"
    shutil.copytree(dbt_runner.PROJECT_DIR, broken)
    alerts = broken / "models" / "mart" / "alerts.sql"
    alerts.write_text(alerts.read_text(encoding="utf-8").replace(
        "SELECT *, message_zh || ' / ' || message_en AS message FROM stated",
        "SELECT *, message_zh || ' / ' || message_en AS message FROM stated WHERE error('disk gone')"),
        encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(dbt_runner, "PROJECT_DIR", broken)
        with pytest.raises(dbt_runner.DbtFailed, match="(?s)alerts: .*disk gone"):
            pipeline.build_marts(crashed, day(2))
    with duckdb.connect(str(crashed.state_db), read_only=True) as c:
        days = c.execute("SELECT list(d ORDER BY d) FROM work.refresh_days").fetchone()[0]
        assert days and c.execute("SELECT count(*) FROM core.pending_dates").fetchone()[0] > 0
        assert c.execute("SELECT count(*) FROM core.runs WHERE run_date = ?", [day(2)]).fetchone()[0] == 0
        # the models before alerts committed tonight's rows
        assert c.execute("SELECT count(*) FROM mart.office_daily WHERE report_date = ?", [day(2)]).fetchone()[0]
    built = pipeline.build_marts(crashed, day(2))
    with duckdb.connect(str(crashed.state_db), read_only=True) as c:
        assert c.execute("SELECT list(d ORDER BY d) FROM work.refresh_days").fetchone()[0] == days
    assert built["refresh_days"] == len(days)
    pipeline.validate_marts(crashed, day(2))
    pipeline.publish(crashed, day(2))
    drop = ("loaded_at", "first_seen_at", "observed_value")
    assert not diff(snapshot(clean.warehouse, drop=drop), snapshot(crashed.warehouse, drop=drop))
