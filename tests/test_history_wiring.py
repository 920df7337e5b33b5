"""The nightly core build on the Iceberg history (docs/decisions/0004): closed items leave the
state and come back on a late event (and a rebuild reads them all back), and a night killed
between the DuckDB and the Iceberg commits is finished by the next run, with the same marts and
history as a clean run."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import DAILY_MARTS, clearcap, copy_tree, day, diff, make_landing, paths_for, snapshot
from transforms import core_build, history as H
from transforms.catalog import items_views
from transforms.pipeline import run_night

pytestmark = pytest.mark.slow
NIGHTS = 4


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("wiring"), days=NIGHTS, scale=0.01, seed=5)


def nightly(landing: Path, wh: Path, last: int = NIGHTS) -> None:
    for n in range(1, last + 1):
        run_night(paths_for(landing, wh), day(n))


def history_rows(wh: Path, landing: Path) -> tuple:
    """Count and hash of every history event (all columns), and the item_days index."""
    h = H.open_history(paths_for(landing, wh))
    files = H.event_files(h, [day(1) + timedelta(days=n) for n in range(-40, NIGHTS + 2)])
    cols = ", ".join(H.EVENT_COLUMNS)
    with duckdb.connect() as con:  # not the module's default connection other tests share
        events = con.execute(f"SELECT count(*), sum(hash({cols})) FROM read_parquet(?)", [files]).fetchone()
        index = con.execute("SELECT count(*), sum(hash(item_id, first_day, last_day)) FROM read_parquet(?)",
                            [H.item_day_files(h)]).fetchone()
    return events, index


@pytest.fixture(scope="module")
def clean(landing, tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("clean") / "w.duckdb"
    nightly(landing, wh)
    return wh


def test_closed_items_reopened_from_history_give_the_same_marts_and_a_rebuild(landing, clean, tmp_path,
                                                                           monkeypatch):
    """Window 0: every item leaves the state the night after its last event, so each later event
    of an item reads its earlier events back from the history. Then `clearcap rebuild --from D1
    --to D2` (issue 11) on that state: the timelines of every item with an event on those days and
    the marts of those days (and every later built day) recomputed from the item-level history
    alone, with no landing zone, equal the marts before."""
    monkeypatch.setattr(core_build, "ITEM_WINDOW_DAYS", 0)
    own = tmp_path / "landing"  # a copy of the module's: the rebuild below takes it away
    copy_tree(landing, own)
    wh = tmp_path / "wh" / "w.duckdb"
    paths = paths_for(own, wh)
    nightly(own, wh)
    assert not diff(snapshot(wh, DAILY_MARTS), snapshot(clean, DAILY_MARTS))
    assert history_rows(wh, own) == history_rows(clean, landing)
    con = duckdb.connect(str(paths.state_db), read_only=True)
    reopened, kept = con.execute("SELECT count(*) FILTER (WHERE batch IS NULL), count(*) FROM core.open_events").fetchone()
    con.close()
    con = duckdb.connect(str(paths_for(landing, clean).state_db), read_only=True)
    kept_clean = con.execute("SELECT count(*) FROM core.open_events").fetchone()[0]
    con.close()
    assert reopened > 0, "no late event of a closed item: the reopen path was not exercised"
    assert kept < kept_clean
    # the closed items' per-item rows left the state for the history's tables, some of them
    # superseded by their item's reopening; state and history together are the clean state's rows
    h = H.open_history(paths)
    with duckdb.connect(str(paths.state_db), read_only=True) as con, \
            duckdb.connect(str(paths_for(landing, clean).state_db), read_only=True) as clean_con:
        assert con.execute("SELECT count(*) FROM core.reopened_items").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM core.closing").fetchone()[0] == 0
        for table, spec in H.CLOSED_TABLES.items():
            cols = [c for c in H.closed_schema(table).column_names if c != H.CLOSED_BATCH]
            files = H.table_files(h.closed[table])
            assert files, table
            current = con.execute(
                f"SELECT count(*), sum(hash({', '.join(cols)})) FROM (SELECT {', '.join(cols)} FROM core.{table} "
                f"UNION ALL SELECT {', '.join(cols)} FROM read_parquet(?, hive_partitioning = false) h "
                "WHERE NOT EXISTS (SELECT 1 FROM core.reopened_items r WHERE r.item_id = h.item_id "
                "AND h.closed_batch <= r.batch))", [files]).fetchone()
            in_state = con.execute(f"SELECT count(*) FROM core.{table}").fetchone()[0]
            assert in_state < current[0], table
            assert current == clean_con.execute(
                f"SELECT count(*), sum(hash({', '.join(cols)})) FROM core.{table}").fetchone(), table
    # and the published items.* views show them all, once
    for view in H.CLOSED_TABLES:
        cols = ", ".join(items_views()[view]["columns"])
        rows = []
        for w in (wh, clean):
            with duckdb.connect(str(w), read_only=True) as con:
                rows.append(con.execute(f"SELECT count(*), sum(hash({cols})) FROM items.{view}").fetchone())
        assert rows[0] == rows[1] and rows[0][0] > 0, view

    # a definition "changes": the per-item timelines and a mart of days 2-3 are wrong now
    marts = DAILY_MARTS + ["office_stay_daily", "alerts", "load_ledger"]
    before = snapshot(wh, marts)
    with duckdb.connect(str(paths.state_db)) as con:
        con.execute("UPDATE core.clearance SET dwell_h = dwell_h + 100 WHERE presented_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE core.dispatch SET leg_days = leg_days + 9 WHERE dispatch_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE core.office_stay SET stay_h = stay_h + 7 WHERE departure_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE mart.office_daily SET items_received = -1 WHERE report_date = ?", [day(2)])
        closed = con.execute("SELECT count(DISTINCT item_id) FROM core.open_events").fetchone()[0]

    # a rebuild killed after it reopened the items, before their timelines: the next run (a
    # night with nothing new) finishes it, so no reopened item's closed rows stay masked with
    # nothing in their place
    from transforms import pipeline

    real_models = core_build._models

    def models(paths_, run_date, names, **variables):
        if "open_events" in names:
            real_models(paths_, run_date, ["open_events", "reopened_items"], **variables)
            raise Killed
        real_models(paths_, run_date, names, **variables)

    with monkeypatch.context() as m:
        m.setattr(core_build, "_models", models)
        with pytest.raises(Killed):
            pipeline.rebuild(paths, day(2), day(3))
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.rebuild_pending").fetchone()[0] == 1
    run_night(paths, day(NIGHTS))
    assert not diff(before, snapshot(wh, marts))
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.rebuild_pending").fetchone()[0] == 0

    with duckdb.connect(str(paths.state_db)) as con:  # wrong again, for the command's rebuild
        con.execute("UPDATE core.clearance SET dwell_h = dwell_h + 100 WHERE presented_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE mart.office_daily SET items_received = -1 WHERE report_date = ?", [day(2)])
    own.rename(tmp_path / "landing_gone")  # the rebuild reads no landing file

    out = subprocess.run(**clearcap("rebuild", "--warehouse", str(wh), "--from", day(2).isoformat(),
                                    "--to", day(3).isoformat()),
                         env={**os.environ, "CLEARCAP_ITEM_WINDOW_DAYS": "0"},
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert f"rebuilt {day(2)} .. {day(3)}" in out.stdout
    assert not diff(before, snapshot(wh, marts))
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        # the items came back from the history (the state held only the last night's)
        assert con.execute("SELECT count(DISTINCT item_id) FROM core.open_events").fetchone()[0] > closed
        assert con.execute("SELECT count(*) FROM core.history_pending").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM core.ledger WHERE status = 'staged'").fetchone()[0] == 0


class Killed(Exception):
    pass


def _kill_core_build_between_its_models(paths, night: int, monkeypatch) -> None:
    """Load and stage `night`, then run its core build until the open events and the timelines
    committed, before the ledger; asserts the half-applied batch it leaves."""
    from transforms import pipeline

    real_models = core_build._models

    def models(paths_, run_date, names, **variables):
        if "open_events" in names:  # the second invocation: stop before file_outcomes
            real_models(paths_, run_date, ["open_events", "touched_events", "clearance"], **variables)
            raise Killed
        real_models(paths_, run_date, names, **variables)

    monkeypatch.setattr(core_build, "_models", models)
    manifests = pipeline.ingest_files(paths, pipeline.plan(paths, day(night)))
    pipeline.load(paths, day(night), manifests)
    pipeline.build_staging(paths, day(night))
    with pytest.raises(Killed):
        pipeline.build_core(paths, day(night))
    monkeypatch.setattr(core_build, "_models", real_models)
    con = duckdb.connect(str(paths.state_db), read_only=True)
    half = con.execute("SELECT count(*) FROM core.open_events o JOIN staging.batch_meta b ON o.batch = b.batch").fetchone()[0]
    staged = con.execute("SELECT count(*) FROM core.ledger WHERE status = 'staged'").fetchone()[0]
    con.close()
    assert half > 0 and staged > 0, "the kill should leave the night's events in state, its files unaccounted"


def test_core_builds_killed_between_their_models_are_finished_with_their_own_batches(
        landing, clean, tmp_path, monkeypatch):
    """The core models commit one by one. Killed after the open events and the timelines
    committed, before the ledger, a batch is finished either by a retry of build_core (an
    Airflow retry: night 2) or by the next run of the night (night 3), whose plan finishes it
    instead of loading its files again, which would count its events as duplicates of
    themselves. That rerun is the `clearcap` command, in a process of its own: the command the
    tests spawn must be this checkout's code (the console script beside sys.executable once
    imported another worktree's package, without the history layer, and ran a night on this
    layer's state)."""
    from transforms import pipeline

    wh = tmp_path / "w.duckdb"
    paths = paths_for(landing, wh)
    nightly(landing, wh, last=1)

    _kill_core_build_between_its_models(paths, 2, monkeypatch)
    pipeline.build_core(paths, day(2))  # the retry
    for step in (pipeline.build_marts, pipeline.validate_marts, pipeline.publish):
        step(paths, day(2))

    _kill_core_build_between_its_models(paths, 3, monkeypatch)
    assert pipeline.plan(paths, day(3)) == [], "the plan finishes the batch: nothing left to load"
    subprocess.run(**clearcap("run", "--landing", str(landing), "--warehouse", str(wh), "--date", day(3).isoformat()),
                   check=True, timeout=600, capture_output=True)
    con = duckdb.connect(str(paths.state_db), read_only=True)
    core = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'core'").fetchall()}
    con.close()
    assert "events" not in core and "open_events" in core

    run_night(paths, day(4))
    assert not diff(snapshot(wh, DAILY_MARTS + ["load_ledger", "quarantine"]),
                    snapshot(clean, DAILY_MARTS + ["load_ledger", "quarantine"]))
    assert history_rows(wh, landing) == history_rows(clean, landing)


def test_a_reopened_items_closed_dates_are_recomputed(landing, tmp_path, monkeypatch):
    """Window 0: a late event reopens closed items whose rows are in the history's tables of
    closed items, not in the state, so the per-item models' pre-hooks cannot see the dates those
    rows had. Those dates must still be pending after the core build: their marts count the item
    there until they are recomputed."""
    from transforms import pipeline

    monkeypatch.setattr(core_build, "ITEM_WINDOW_DAYS", 0)
    own = tmp_path / "landing"
    copy_tree(landing, own)
    # one more item, dispatched on the day before the others' first (so no other item has a
    # date there), closed the night after, whose dispatch a late second EMC moves to the last night
    item = "EE123456785CN"
    for d, times in ((day(1), [("EMB", 8), ("EXA", 9), ("EXC", 10), ("EMC", 11)]), (day(NIGHTS), [("EMC", 11)])):
        when = day(0) if d == day(1) else d
        rows = [{"item_id": item, "event_code": code, "event_time": f"{when}T{h:02d}:00:00", "office_code": "CNBJSA",
                 "next_office_code": None, "mail_class": "E", "origin_country": "CN", "destination_country": "JP",
                 "weight_g": None, "retention_code": None, "reason_code": None, "action_code": None}
                for code, h in times]
        (own / "item_events" / d.isoformat() / "late_dispatch.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    landing = own
    wh = tmp_path / "w.duckdb"
    paths = paths_for(landing, wh)
    nightly(landing, wh, last=NIGHTS - 1)
    manifests = pipeline.ingest_files(paths, pipeline.plan(paths, day(NIGHTS)))
    pipeline.load(paths, day(NIGHTS), manifests)
    pipeline.build_staging(paths, day(NIGHTS))
    real_models = core_build._models

    def models(paths_, run_date, names, **variables):
        # only what the models that reopen and rebuild the timelines record counts: other
        # nights' or reports' days would hide a date they miss
        if "open_events" in names:
            with duckdb.connect(str(paths_.state_db)) as c:
                c.execute("DELETE FROM core.pending_dates")
        real_models(paths_, run_date, names, **variables)

    monkeypatch.setattr(core_build, "_models", models)
    pipeline.build_core(paths, day(NIGHTS))
    h = H.open_history(paths)
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        batch = con.execute("SELECT batch FROM staging.batch_meta").fetchone()[0]
        assert con.execute("SELECT count(*) FROM core.reopened_items WHERE batch = ? AND item_id = ?",
                           [batch, item]).fetchone()[0] == 1
        assert con.execute("SELECT dispatch_date FROM core.dispatch WHERE item_id = ?", [item]).fetchone()[0] == day(NIGHTS)
        for table, (_, dates) in H.CLOSED_TABLES.items():
            missing = con.execute(
                f"SELECT DISTINCT d FROM (SELECT unnest([{', '.join(dates)}]) AS d "
                "FROM read_parquet(?, hive_partitioning = false) h "
                "JOIN core.reopened_items r ON r.item_id = h.item_id AND r.batch = ? "
                "WHERE h.closed_batch <= r.batch) WHERE d IS NOT NULL "
                "AND d NOT IN (SELECT d FROM core.pending_dates)",
                [H.table_files(h.closed[table]), batch]).fetchall()
            assert missing == [], (table, missing)
