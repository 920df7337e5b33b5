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


def _bare_state(db) -> None:
    """The bookkeeping tables, and an empty work.pending_days for refresh_days to read."""
    with duckdb.connect(str(db)) as c:
        c.execute(sql_text("schema/state.sql"))
        c.execute("CREATE SCHEMA work; CREATE TABLE work.pending_days (d DATE)")


@pytest.fixture(scope="module")
def empty_state(tmp_path_factory):
    """A state whose every model dbt created, with no rows."""
    from pipeline_helpers import empty_state

    return empty_state(tmp_path_factory.mktemp("dbt_project"), DAY)


def test_unit_tests_pass(empty_state):
    res = dbt_runner.invoke(empty_state, empty_state.parent / "dbt", DAY,
                            ["test", "--select", "test_type:unit"])
    names = {r.node.name for r in res.result.results}
    assert set(WRONG_EXPECTATIONS) <= names
    # every mart and per-item core model with a formula has its unit tests
    assert {r.node.tested_node_unique_id.rsplit(".", 1)[-1] for r in res.result.results} >= {
        "office_daily", "customs_dwell_daily", "national_daily", "office_stay_daily", "lane_weekly",
        "capacity_outlook", "alerts", "centre_daily", "reconciliation_daily", "destination_monthly",
        "clearance", "office_stay", "dispatch", "exchange_office_rows"}
    assert all(str(r.status) == "pass" for r in res.result.results)


# one expected value of each unit test, and a wrong value for it
WRONG_EXPECTATIONS = {
    "office_daily_sums_mail_classes_and_rates": ("backlog_days: 0.6", "backlog_days: 0.5"),
    "customs_dwell_daily_percentiles_and_stock": ("dwell_p95_h: 43.5", "dwell_p95_h: 43.6"),
    "national_daily_sums_reporting_offices_and_pools_dwell": ("offices_expected: 4", "offices_expected: 5"),
    "office_stay_daily_steps_per_office_and_national": ("to_customs_p95_h: 9.5", "to_customs_p95_h: 9.0"),
    "lane_weekly_iso_week_across_the_year_end": ("items_dispatched: 7", "items_dispatched: 8"),
    "destination_monthly_share_and_growth": ("growth_yoy: -0.5", "growth_yoy: -0.4"),
    "reconciliation_daily_tolerance_of_five_percent_at_least_twenty": ("tolerance: 50.0", "tolerance: 45.0"),
    "centre_daily_regimes_load_factor_and_missing_centres": ("missing_reason: rejected", "missing_reason: not_received"),
    "capacity_outlook_windows_growth_and_breach": ("breach_date: 2027-04-22", "breach_date: 2027-04-23"),
    "capacity_outlook_growth_is_exp_30_slope_minus_1": ("growth_monthly: 0.0", "growth_monthly: 0.01"),
    "alerts_conditions_of_a_first_night": ("(20 days)", "(21 days)"),
    "alerts_state_against_the_previous_published_night": ("state: escalated", "state: continuing"),
    # models/core/_core_unit_tests.yml
    "clearance_presented_released_dwell_and_holds": ("release_date: 2027-03-03", "release_date: 2027-03-02"),
    "office_stay_steps_around_clearance": ("after_release_h: 3.5", "after_release_h: 4.5"),
    "dispatch_last_chinese_emc_destination_and_leg": ("leg_days: 1.5", "leg_days: 1.25"),
    "exchange_office_rows_latest_delivery_of_each_office_day": ("items_received: 120", "items_received: 100"),
}
UNIT_TEST_FILES = ("mart/_mart_unit_tests.yml", "core/_core_unit_tests.yml")


def test_a_wrong_expectation_fails(empty_state, tmp_path, monkeypatch):
    """The unit tests compare: the same project with one expected value of each test changed
    fails every one of them."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(dbt_runner.PROJECT_DIR, project)
    rewritten = set()
    for file in UNIT_TEST_FILES:
        tests = project / "models" / file
        head, *blocks = re.split(r"(?m)^(?=  - name: )", tests.read_text(encoding="utf-8"))
        for i, block in enumerate(blocks):
            name = re.match(r"  - name: (\w+)", block).group(1)
            good, bad = WRONG_EXPECTATIONS[name]
            expected = block[block.index("    expect:"):]
            assert good in expected, (name, good)
            blocks[i] = block.replace(expected, expected.replace(good, bad, 1))
            rewritten.add(name)
        tests.write_text(head + "".join(blocks), encoding="utf-8")
    # every unit test of the project is in those files: each has its wrong value
    assert rewritten == set(WRONG_EXPECTATIONS)
    monkeypatch.setattr(dbt_runner, "PROJECT_DIR", project)
    with pytest.raises(dbt_runner.DbtFailed) as failed:
        dbt_runner.invoke(empty_state, tmp_path / "dbt", DAY, ["test", "--select", "test_type:unit"])
    assert {n for n in WRONG_EXPECTATIONS if f"{n}: " not in str(failed.value)} == set()


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


def test_a_new_state_starts_from_the_parse_another_state_made(tmp_path, monkeypatch):
    """Every state gets the same profile text (paths relative to the state's folder), so the
    second state's first invocation reuses the first one's parse instead of parsing the whole
    project again, and still builds into its own file."""
    monkeypatch.setattr(dbt_runner, "PARSE_CACHE", tmp_path / "cache")
    states = []
    for name in ("first", "o'second"):
        db = tmp_path / name / "state.duckdb"
        db.parent.mkdir()
        _bare_state(db)
        states.append(db)
    first, second = states
    dbt_runner.invoke(first, first.parent / "dbt", DAY, ["run", "--select", "refresh_days"])
    [entry] = (tmp_path / "cache").iterdir()
    cached = (entry / dbt_runner.PARSE_FILE).read_bytes()
    assert (first.parent / "dbt" / "profiles.yml").read_text() == dbt_runner._profile(second, tmp_path)
    dbt_runner.invoke(second, second.parent / "dbt", DAY, ["run", "--select", "refresh_days"])
    # a parse writes a new manifest (its own invocation id and time): this one was not parsed
    assert (second.parent / "dbt" / "target" / dbt_runner.PARSE_FILE).read_bytes() == cached
    for db in states:
        with duckdb.connect(str(db), read_only=True) as c:
            assert c.execute("SELECT d FROM work.refresh_days").fetchall() == [(DAY,)]


def test_lineage_page_opens_offline_and_is_made_once(empty_state, tmp_path):
    out = tmp_path / "warehouse_lineage.html"
    work = empty_state.parent / "dbt"
    assert dbt_runner.publish_lineage(empty_state, work, DAY, out)
    page = out.read_text(encoding="utf-8")
    # manifest and catalog inlined: every model and source of the graph is in the page
    for node in ("model.clearcap.office_daily", "model.clearcap.refresh_days",
                 "model.clearcap.clearance", "model.clearcap.open_events", "source.clearcap.core.ledger"):
        assert node in page
    # nothing fetched from a host: no <script src> or <link href> to http(s)
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page, flags=re.I)
    assert tags and not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t, re.I)]
    # the project has not changed: not made again
    assert not dbt_runner.publish_lineage(empty_state, work, DAY, out)


def test_a_crash_mid_layer_reruns_the_layer_on_the_same_days(tmp_path):
    """Each mart model commits alone: when one fails, those built before it stay, but
    core.pending_dates and core.runs are untouched, so the rerun recomputes the whole layer
    on the same days and the warehouse equals a run that never failed."""
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
    # the disk "goes" under the last mart model: the one table only alerts reads is away
    with duckdb.connect(str(crashed.state_db)) as c:
        c.execute("ALTER TABLE core.published_nights RENAME TO published_nights_away")
    with pytest.raises(dbt_runner.DbtFailed, match="(?s)alerts: .*published_nights"):
        pipeline.build_marts(crashed, day(2))
    with duckdb.connect(str(crashed.state_db)) as c:
        c.execute("ALTER TABLE core.published_nights_away RENAME TO published_nights")
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


def test_a_cursor_opened_after_a_spill_keeps_the_spill_folder(tmp_path, monkeypatch):
    """dbt opens a cursor per model and the plugin configures each; DuckDB refuses to set
    temp_directory again once a query spilled there, even to the same folder (a peak night's
    model after ev_new failed so). The plugin sets it only when it differs."""
    from transforms.dbt_session import Plugin

    plugin = Plugin.__new__(Plugin)
    plugin.temp_directory = str(tmp_path / "tmp")
    monkeypatch.setitem(dbt_runner.SESSION_VARIABLES, "run_date", DAY)
    with duckdb.connect(str(tmp_path / "state.duckdb")) as con:
        plugin.configure_cursor(con.cursor())
        con.execute("SET memory_limit = '64MB'; SET threads = 1")
        con.execute("CREATE TABLE spilled AS SELECT range AS a, random() AS b FROM range(6000000) ORDER BY b")
        cursor = con.cursor()
        plugin.configure_cursor(cursor)  # raised "Cannot switch temporary directory" before
        assert cursor.execute("SELECT current_setting('temp_directory'), getvariable('run_date')").fetchone() == \
            (str(tmp_path / "tmp"), DAY)
