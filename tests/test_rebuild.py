"""`clearcap rebuild --from D1 --to D2` (issue 11): the timelines of every item with an event on
those days and the marts of those days (and every later built day) recomputed from the
item-level history alone, with no landing zone, equal to a clean run."""
from __future__ import annotations

import os
import subprocess

import duckdb
import pytest

from pipeline_helpers import DAILY_MARTS, clearcap, day, diff, make_landing, paths_for, snapshot
from transforms import core_build
from transforms.pipeline import run_night

pytestmark = pytest.mark.slow
NIGHTS = 4
MARTS = DAILY_MARTS + ["office_stay_daily", "alerts", "load_ledger"]


def test_a_rebuild_from_the_history_equals_the_clean_run(tmp_path, monkeypatch):
    landing = make_landing(tmp_path, days=NIGHTS, scale=0.01, seed=9)
    wh = tmp_path / "wh" / "w.duckdb"
    paths = paths_for(landing, wh)
    # window 0: every item has left the state by the next night, so the rebuild must read
    # every item's events back from the history
    monkeypatch.setattr(core_build, "ITEM_WINDOW_DAYS", 0)
    for n in range(1, NIGHTS + 1):
        run_night(paths, day(n))
    clean = snapshot(wh, MARTS)

    # a definition "changes": the per-item timelines and a mart of days 2-3 are wrong now
    with duckdb.connect(str(paths.state_db)) as con:
        con.execute("UPDATE core.clearance SET dwell_h = dwell_h + 100 WHERE presented_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE core.dispatch SET leg_days = leg_days + 9 WHERE dispatch_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE core.office_stay SET stay_h = stay_h + 7 WHERE departure_date BETWEEN ? AND ?",
                    [day(2), day(3)])
        con.execute("UPDATE mart.office_daily SET items_received = -1 WHERE report_date = ?", [day(2)])
        closed = con.execute("SELECT count(DISTINCT item_id) FROM core.open_events").fetchone()[0]
    landing.rename(tmp_path / "landing_gone")  # the rebuild reads no landing file

    out = subprocess.run(**clearcap("rebuild", "--warehouse", str(wh), "--from", day(2).isoformat(),
                                    "--to", day(3).isoformat()),
                         env={**os.environ, "CLEARCAP_ITEM_WINDOW_DAYS": "0"},
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert f"rebuilt {day(2)} .. {day(3)}" in out.stdout
    assert not diff(clean, snapshot(wh, MARTS))
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        # the items came back from the history (the state held only the last night's)
        assert con.execute("SELECT count(DISTINCT item_id) FROM core.open_events").fetchone()[0] > closed
        assert con.execute("SELECT count(*) FROM core.history_pending").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM core.ledger WHERE status = 'staged'").fetchone()[0] == 0


def test_a_rebuild_needs_a_built_night(tmp_path):
    landing = make_landing(tmp_path, days=1, scale=0.005, seed=3)
    wh = tmp_path / "wh" / "w.duckdb"
    out = subprocess.run(**clearcap("rebuild", "--warehouse", str(wh), "--from", day(1).isoformat(),
                                    "--to", day(1).isoformat()), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "no built night to rebuild" in out.stderr
    assert not wh.exists() and landing.exists()
