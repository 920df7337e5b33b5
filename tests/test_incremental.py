"""Incremental nightly loads (issue 4): late files, redeliveries, completed .part files, events of
one item over several days, reruns and readers during a load (SIGKILL at every step of a night: test_kill_points.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import DAILY_MARTS, clearcap, copy_tree, day, diff, make_landing, paths_for, snapshot
from transforms.history import event_files, open_history
from transforms.pipeline import run_night

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("full"), days=6)


@pytest.fixture(scope="module")
def one_shot_all(full_landing, tmp_path_factory) -> Path:
    """One run over all six days: the reference the incremental paths must reproduce."""
    wh = tmp_path_factory.mktemp("once") / "w.duckdb"
    run_night(paths_for(full_landing, wh), day(6))
    return wh


def deliver_days(full: Path, target: Path, days: list[int]) -> None:
    (target / "reference").mkdir(parents=True, exist_ok=True)
    shutil.copy2(full / "reference" / "offices.csv", target / "reference" / "offices.csv")
    for feed in ("exchange_office", "customs_centre", "item_events"):
        for n in days:
            src = full / feed / day(n).isoformat()
            if src.is_dir():
                copy_tree(src, target / feed / day(n).isoformat())


def one_shot(landing: Path, warehouse: Path, last: int) -> dict:
    run_night(paths_for(landing, warehouse), day(last))
    return snapshot(warehouse, DAILY_MARTS)


def test_phased_delivery_equals_fresh_run_over_the_same_data(full_landing, tmp_path):
    delivered = tmp_path / "delivered"
    deliver_days(full_landing, delivered, [1, 2, 3, 4])
    # Held back: one office report of day 2 (arrives late) ...
    late = sorted((delivered / "exchange_office" / day(2).isoformat()).glob("*.csv"))[0]
    held = tmp_path / "held" / late.name
    held.parent.mkdir()
    shutil.move(late, held)
    # ... and one events file of day 4 still being written.
    events_day4 = sorted(p for p in (delivered / "item_events" / day(4).isoformat()).iterdir()
                         if not p.name.endswith(".part"))[0]
    partial = events_day4.with_name(events_day4.name + ".part")
    os.rename(events_day4, partial)

    wh = tmp_path / "nightly" / "warehouse.duckdb"
    paths = paths_for(delivered, wh)
    for n in (1, 2, 3, 4):
        run_night(paths, day(n))
    # nightly runs equal one run over the same files, items whose events come in three or
    # more files (over several nights) included
    phase1 = snapshot(wh, DAILY_MARTS)
    assert not diff(phase1, one_shot(delivered, tmp_path / "fresh1" / "w.duckdb", 4))
    history = open_history(paths)
    files = event_files(history, [day(1) + timedelta(days=n) for n in range(-40, 5)])
    with duckdb.connect() as con:  # not the module's default connection other tests share
        spanning = con.execute("""SELECT count(*) FROM (SELECT item_id FROM read_parquet(?)
                                  GROUP BY item_id HAVING count(DISTINCT file_id) >= 3)""", [files]).fetchone()[0]
    assert spanning > 0, "the demo must have items whose events come in three or more files"
    office = late.name[:6]
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT bool_or(reported) FROM mart.office_daily WHERE office_code = ? "
                       "AND report_date = ?", [office, day(2)]).fetchone()[0] is False
    con.close()

    # Night 5: the late report, the completed events file, a redelivery of a day-3 report under
    # another name, and day 5's own files.
    shutil.move(held, late)
    os.rename(partial, events_day4)
    redelivered = sorted((delivered / "exchange_office" / day(3).isoformat()).glob("*.csv"))[-1]
    again = redelivered.with_name("redelivery_" + redelivered.name)
    shutil.copyfile(redelivered, again)
    deliver_days(full_landing, delivered, [5])
    summary = run_night(paths, day(5))
    assert summary["build_core"]["files"] > 0
    phase2 = snapshot(wh, DAILY_MARTS)
    assert not diff(phase2, one_shot(delivered, tmp_path / "fresh2" / "w.duckdb", 5))

    con = duckdb.connect(str(wh), read_only=True)
    reported = con.execute("SELECT bool_or(reported) FROM mart.office_daily WHERE office_code = ? "
                           "AND report_date = ?", [office, day(2)]).fetchone()[0]
    statuses = dict(con.execute(
        "SELECT path, status FROM mart.load_ledger WHERE path IN (?, ?, ?)",
        [str(redelivered.relative_to(delivered)), str(again.relative_to(delivered)),
         str(events_day4.relative_to(delivered))]).fetchall())
    con.close()
    assert reported is True
    assert statuses[str(again.relative_to(delivered))] == "loaded"
    if statuses[str(redelivered.relative_to(delivered))] != "quarantined":
        assert statuses[str(redelivered.relative_to(delivered))] == "superseded"
    assert statuses[str(events_day4.relative_to(delivered))] == "loaded"

    # A rerun of the night changes no published row (ledger, quality and alerts included).
    before = snapshot(wh)
    run_night(paths, day(5))
    assert not diff(before, snapshot(wh))


def test_accounting_every_row(full_landing, one_shot_all):
    con = duckdb.connect(str(one_shot_all), read_only=True)
    bad = con.execute("""SELECT path FROM mart.load_ledger
                         WHERE rows_read <> rows_loaded + rows_quarantined + rows_duplicate""").fetchall()
    files_on_disk = {p.relative_to(full_landing).as_posix() for p in full_landing.rglob("*")
                     if p.is_file() and not p.name.endswith((".part", ".tmp"))}
    in_ledger = {r[0] for r in con.execute("SELECT path FROM mart.load_ledger").fetchall()}
    con.close()
    assert bad == []
    assert files_on_disk == in_ledger


READER = r"""
import sys, time, duckdb
path, seconds = sys.argv[1], float(sys.argv[2])
queries = errors = 0
last = None
end = time.time() + seconds
while time.time() < end:
    try:
        con = duckdb.connect(path, read_only=True)
        n, off = con.execute("SELECT sum(national_received), sum(offices_received) FROM ("
            "SELECT n.report_date, n.direction, coalesce(n.items_received, 0) AS national_received, "
            "(SELECT coalesce(sum(items_received), 0) FROM mart.office_daily o WHERE o.report_date = n.report_date "
            " AND o.direction = n.direction AND o.reported) AS offices_received FROM mart.national_daily n)").fetchone()
        run_date = con.execute("SELECT run_date FROM mart.publication").fetchone()[0]
        con.close()
        if n != off:
            raise AssertionError(f"half a load: national {n} != offices {off}")
        if last is not None and run_date < last:
            raise AssertionError("went back in time")
        last = run_date
        queries += 1
    except Exception as exc:
        errors += 1
        print("ERROR", type(exc).__name__, exc, flush=True)
print("RESULT", queries, errors, flush=True)
"""


def test_reader_loop_counts_queries_during_a_real_run(full_landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    paths = paths_for(full_landing, wh)
    run_night(paths, day(1))
    # two nights in a process of its own (≈ 30 s with its start): the reader's 20 s fall inside
    reader = subprocess.Popen([sys.executable, "-c", READER, str(wh), "20"],
                              stdout=subprocess.PIPE, text=True)
    subprocess.run(**clearcap("run", "--landing", str(full_landing), "--warehouse", str(wh),
                              "--date", day(2).isoformat(), "--to", day(3).isoformat()), check=True, timeout=600)
    out, _ = reader.communicate(timeout=120)
    result = [line for line in out.splitlines() if line.startswith("RESULT")][0].split()
    assert int(result[2]) == 0, out
    assert int(result[1]) > 10, out


def _late_correction(delivered: Path, wh: Path, tag: str, factor: int) -> str:
    """A redelivered day-1 report of one office (new name), its inbound dispatches scaled:
    every later day's 7-day backlog_days, 28/90-day outlook and weekly/monthly figure moves."""
    con = duckdb.connect(str(wh), read_only=True)
    office, dispatched, backlog = con.execute(
        "SELECT office_code, items_dispatched, backlog_close FROM mart.office_daily WHERE reported "
        "AND report_date = ? AND direction = 'inbound' ORDER BY office_code LIMIT 1", [day(1)]).fetchone()
    con.close()
    (delivered / "exchange_office" / day(1).isoformat() / f"{tag}_{office}.csv").write_text(
        "report_date,office_code,direction,mail_class,items_received,items_dispatched,backlog_close\n"
        f"{day(1)},{office},inbound,U,{dispatched * factor},{dispatched * factor},{backlog}\n",
        encoding="utf-8")
    return office


def test_rerun_and_backfill_of_an_older_night_refresh_every_later_built_day(full_landing, tmp_path):
    """Issue 13.1: nights 1, 3 and 4 built (night 3 catches up day 2); then a corrected day-1
    office report arrives and the older night 2 runs for the first time (a backfill); then
    another correction and a held-back day-1 events file arrive and night 1 runs again (a
    rerun). Each time every mart equals one clean run over the same files, table by table."""
    delivered = tmp_path / "delivered"
    deliver_days(full_landing, delivered, [1, 2, 3, 4])
    events_day1 = sorted((delivered / "item_events" / day(1).isoformat()).glob("*.jsonl*"))[0]
    held = tmp_path / "held" / events_day1.name
    held.parent.mkdir()
    shutil.move(events_day1, held)

    wh = tmp_path / "nightly" / "w.duckdb"
    paths = paths_for(delivered, wh)
    for n in (1, 3, 4):
        run_night(paths, day(n))
    before = snapshot(wh, DAILY_MARTS)

    _late_correction(delivered, wh, "correction", 4)
    run_night(paths, day(2))  # backfill of a night never run, older than the latest built
    backfilled = snapshot(wh, DAILY_MARTS)
    later = [r for r in backfilled["office_daily"] if r[1] >= day(3)]
    assert later != [r for r in before["office_daily"] if r[1] >= day(3)]  # the change carries on
    assert not diff(backfilled, one_shot(delivered, tmp_path / "fresh1" / "w.duckdb", 4))

    _late_correction(delivered, wh, "second_correction", 2)
    shutil.move(held, events_day1)
    run_night(paths, day(1))  # rerun of the oldest night
    assert not diff(snapshot(wh, DAILY_MARTS), one_shot(delivered, tmp_path / "fresh2" / "w.duckdb", 4))
