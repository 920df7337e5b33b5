"""The nightly steps as the DAG calls them: one writer, clear failures, an untouched warehouse
when a run cannot publish."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import day, make_landing, paths_for
from transforms import pipeline

CLI = str(Path(sys.executable).with_name("clearcap"))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("steps"), days=3, scale=0.01, seed=2)


def test_steps_refuse_a_batch_staged_by_another_night(landing, tmp_path):
    paths = paths_for(landing, tmp_path / "w.duckdb")
    manifests = [pipeline.ingest_file(paths, e) for e in pipeline.plan(paths, day(2))]
    pipeline.load(paths, day(2), manifests)
    with pytest.raises(RuntimeError, match="another run interleaved"):
        pipeline.build_staging(paths, day(3))
    with pytest.raises(RuntimeError, match="another run interleaved"):
        pipeline.build_core(paths, day(3))


def test_plan_chunks_cover_every_planned_file_once(landing, tmp_path):
    paths = paths_for(landing, tmp_path / "w.duckdb")
    entries = pipeline.plan(paths, day(3))
    chunks = pipeline.plan_chunks(paths, day(3), chunks=3)
    assert len(chunks) == 3
    assert sorted(e["path"] for c in chunks for e in c) == sorted(e["path"] for e in entries)
    assert all(e["folder_date"] is None or e["folder_date"] <= day(3).isoformat() for e in entries)


def test_cli_names_a_missing_landing_zone(tmp_path):
    out = subprocess.run([CLI, "run", "--landing", str(tmp_path / "nope"), "--warehouse",
                          str(tmp_path / "w.duckdb"), "--date", "2026-03-02"], capture_output=True, text=True)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_failed_run_leaves_the_published_warehouse_untouched(landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    ok = subprocess.run([CLI, "run", "--landing", str(landing), "--warehouse", str(wh),
                         "--date", day(2).isoformat()], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    before = wh.read_bytes()
    # a state that cannot be opened (not a DuckDB file) makes the next night fail
    state = paths_for(landing, wh).state_db
    state.write_bytes(b"not a database")
    bad = subprocess.run([CLI, "run", "--landing", str(landing), "--warehouse", str(wh),
                          "--date", day(3).isoformat()], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAILED" in bad.stderr and "left as it was" in bad.stderr
    assert wh.read_bytes() == before
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT run_date FROM mart.publication").fetchone()[0] == day(2)
    con.close()


def test_reference_with_an_unknown_time_zone_is_quarantined_and_the_run_carries_on(tmp_path):
    landing = make_landing(tmp_path, days=2, scale=0.01, seed=4)
    paths = paths_for(landing, tmp_path / "w.duckdb")
    pipeline.run_night(paths, day(1))
    ref = landing / "reference" / "offices.csv"
    ref.write_text(ref.read_text(encoding="utf-8").replace("Asia/Urumqi", "Asia/Urumgi"), encoding="utf-8")
    pipeline.run_night(paths, day(2))
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    status = con.execute("SELECT status, message FROM mart.load_ledger WHERE feed = 'reference' "
                         "ORDER BY file_id DESC LIMIT 1").fetchone()
    tz = con.execute("SELECT DISTINCT tz FROM mart.offices WHERE office_code = 'CNURCA'").fetchall()
    published = con.execute("SELECT run_date FROM mart.publication").fetchone()[0]
    con.close()
    assert status[0] == "quarantined" and "unknown_time_zone" in status[1]
    assert tz == [("Asia/Urumqi",)]  # the reference in force stays
    assert published == day(2)


def s10(prefix: str, serial: str, country: str) -> str:
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7)))
    check = 11 - total % 11
    return f"{prefix}{serial}{ {10: 0, 11: 5}.get(check, check)}{country}"


FOREIGN_ITEM = s10("LX", "99887766", "CN")


@pytest.fixture(scope="module")
def defects(tmp_path_factory):
    """Two demo days with the defects of the tests below written into them (each into files or
    sites of its own), through one night: (landing, paths, what the day-2 cases picked)."""
    root = tmp_path_factory.mktemp("defects")
    landing = make_landing(root, days=2, scale=0.01, seed=4)
    d1 = day(1).isoformat()
    eo1 = landing / "exchange_office" / d1
    head = "report_date,office_code,direction,mail_class,items_received,items_dispatched\n"
    # a file with only a total row
    (eo1 / "totals_only.csv").write_text(
        "report_date,office_code,direction,mail_class,items_received\n  Total ,,,,500\n", encoding="utf-8")
    # a total that disagrees with its rows, a file without a header, subtotal rows
    (eo1 / "bad_total.csv").write_text(
        head + f"{d1},CNBJSA,inbound,U,10,5\n{d1},CNBJSA,outbound,U,20,7\nTotal,,,,31,12\n", encoding="utf-8")
    (eo1 / "no_header.csv").write_text("just,some,words\n1,2,3\n", encoding="utf-8")
    (eo1 / "subtotals.csv").write_text(
        head + f"{d1},CNSHAA,inbound,U,10,5\n{d1},CNSHAA,inbound,小计,10,5\n"
        f"{d1},CNSHAA,outbound,C,20,7\nSubtotal,,,,20,7\n合计,,,,30,12\n", encoding="utf-8")
    # an arrival abroad in the city's local time, without an offset
    (landing / "item_events" / d1 / "extra.jsonl").write_text("\n".join([
        '{"item_id":"%s","event_code":"EMC","event_time":"%sT12:00:00+08:00","office_code":"CNSZXA",'
        '"mail_class":"U","origin_country":"CN","destination_country":"US"}' % (FOREIGN_ITEM, day(1)),
        '{"item_id":"%s","event_code":"EMD","event_time":"%sT12:00:00","office_code":"USLAXA",'
        '"mail_class":"U","origin_country":"CN","destination_country":"US"}' % (FOREIGN_ITEM, day(1)),
    ]) + "\n", encoding="utf-8")
    # day 2: an office whose every row is quarantined, an office that sent nothing, a centre
    # whose file is rejected whole
    eo, cc = landing / "exchange_office" / day(2).isoformat(), landing / "customs_centre" / day(2).isoformat()
    eo_files = sorted(p for p in eo.iterdir() if p.suffix == ".csv")
    rejected_office, silent_office = (re.search(r"CN[A-Z]{4}", p.name).group(0) for p in eo_files[:2])
    for p in eo.iterdir():  # every delivery of the two offices (the demo redelivers some)
        if rejected_office in p.name or silent_office in p.name:
            p.unlink()
    bad_rows = eo / f"{rejected_office}_fixed.csv"
    bad_rows.write_text("report_date,office_code,direction,mail_class,items_received,items_dispatched\n"
                        f"{day(2)},{rejected_office},inbound,U,-5,10\n"
                        f"{day(2)},{rejected_office},outbound,U,-3,10\n", encoding="utf-8")
    cc_file = sorted(p for p in cc.iterdir() if p.suffix == ".csv" and re.match(r"[A-Z]{3}KJ\d\d_", p.name))[0]
    centre = cc_file.name[:7]
    for p in cc.iterdir():
        if centre in p.name:
            p.unlink()
    bad_total = cc / f"{centre}_fixed.csv"
    bad_total.write_text("report_date,centre_code,direction,regime,declarations_lodged\n"
                         f"{day(2)},{centre},inbound,9610,100\nTotal,,,,999\n", encoding="utf-8")
    paths = paths_for(landing, root / "w.duckdb")
    pipeline.run_night(paths, day(2))
    return landing, paths, {"rejected_office": rejected_office, "silent_office": silent_office,
                            "bad_rows": bad_rows, "centre": centre, "bad_total": bad_total}


def test_a_file_with_only_a_total_row_is_quarantined(defects):
    _landing, paths, _ = defects
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    row = con.execute("SELECT status, message FROM mart.load_ledger WHERE path LIKE '%totals_only.csv'").fetchone()
    con.close()
    assert row[0] == "quarantined" and "total_mismatch" in row[1]


def test_foreign_local_times_use_the_city_zone(defects):
    _landing, paths, _ = defects
    con = duckdb.connect(str(paths.state_db), read_only=True)
    leg = con.execute("SELECT leg_days FROM core.dispatch WHERE item_id = ?", [FOREIGN_ITEM]).fetchone()[0]
    con.close()
    # 12:00 in Los Angeles (UTC-8 in March before DST) is 20:00 UTC; 12:00+08:00 is 04:00 UTC
    assert leg == pytest.approx(16 / 24)


def test_a_rejected_report_is_told_apart_from_one_never_received(defects):
    """Issue 13.8: an office whose every row is quarantined, a centre whose file is rejected
    whole and an office that sent nothing: ledger status, missing_reason and alerts differ."""
    landing, paths, picked = defects
    rejected_office, silent_office, centre = picked["rejected_office"], picked["silent_office"], picked["centre"]
    bad_rows, bad_total = picked["bad_rows"], picked["bad_total"]
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        ledger = dict(con.execute(
            "SELECT path, status || ' | ' || coalesce(message, '') FROM mart.load_ledger WHERE path IN (?, ?)",
            [bad_rows.relative_to(landing).as_posix(), bad_total.relative_to(landing).as_posix()]).fetchall())
        reasons = dict(con.execute(
            "SELECT office_code, string_agg(DISTINCT coalesce(missing_reason, 'NULL')) FROM mart.office_daily "
            "WHERE report_date = ? AND NOT reported GROUP BY ALL", [day(2)]).fetchall())
        reported_reasons = con.execute("SELECT count(*) FROM mart.office_daily WHERE reported "
                                       "AND missing_reason IS NOT NULL").fetchone()[0]
        centre_reason = con.execute("SELECT DISTINCT reported, missing_reason FROM mart.centre_daily "
                                    "WHERE centre_code = ? AND report_date = ?", [centre, day(2)]).fetchall()
        alerts = con.execute("SELECT office_code, kind, message_en FROM mart.alerts WHERE as_of_date = ? "
                             "AND kind IN ('report_missing', 'report_rejected')", [day(2)]).fetchall()
    finally:
        con.close()
    assert ledger[bad_rows.relative_to(landing).as_posix()].startswith("quarantined | ")
    assert "negative_count" in ledger[bad_rows.relative_to(landing).as_posix()]
    assert ledger[bad_total.relative_to(landing).as_posix()].startswith("quarantined | total_mismatch")
    assert reasons[rejected_office] == "rejected"
    assert reasons[silent_office] == "not_received"
    assert reported_reasons == 0
    assert centre_reason == [(False, "rejected")]
    kinds = {(o, k) for o, k, _ in alerts}
    assert (rejected_office, "report_rejected") in kinds and (rejected_office, "report_missing") not in kinds
    assert (silent_office, "report_missing") in kinds and (centre, "report_rejected") in kinds
    message = [m for o, k, m in alerts if o == rejected_office][0]
    assert bad_rows.relative_to(landing).as_posix() in message and "negative_count" in message


def test_quarantine_details_name_the_column_and_say_their_rule_once_and_subtotals_load(defects):
    """Issue 13, findings 7 and 9."""
    _landing, paths, _ = defects
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    ledger = {p.rsplit("/", 1)[1]: rest for p, *rest in con.execute(
        "SELECT path, status, message, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
        "FROM mart.load_ledger WHERE path LIKE 'exchange_office/%' AND path SIMILAR TO '.*/(bad_total|"
        "no_header|subtotals)[.]csv'").fetchall()}
    details = dict(con.execute("SELECT file, detail FROM mart.quarantine WHERE line IS NULL").fetchall())
    con.close()
    status, message, *_ = ledger["bad_total.csv"]
    assert status == "quarantined" and message.count("total_mismatch") == 1
    assert "items_received" in message and "31" in message and "30" in message  # column, total, rows' sum
    assert "items_received" in details["bad_total.csv"]
    status, message, *_ = ledger["no_header.csv"]
    assert status == "quarantined" and message.startswith("no_header: ") and message.count("no_header") == 1
    status, message, read, loaded, quarantined, duplicate = ledger["subtotals.csv"]
    assert status == "loaded" and message is None
    assert read == loaded == 2 and read == loaded + quarantined + duplicate


def test_rerun_after_a_late_correction_refreshes_the_days_after_it(tmp_path):
    landing = make_landing(tmp_path, days=5, scale=0.01, seed=4)
    paths = paths_for(landing, tmp_path / "w.duckdb")
    pipeline.run_night(paths, day(5))
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    office = con.execute("SELECT office_code FROM mart.office_daily WHERE reported AND report_date = ? "
                         "AND direction = 'inbound' ORDER BY office_code LIMIT 1", [day(2)]).fetchone()[0]
    con.close()
    # a correction for day 2 that doubles the office's inbound reception, under a new name
    (landing / "exchange_office" / day(2).isoformat() / "late_fix.csv").write_text(
        "report_date,office_code,direction,mail_class,items_received,items_dispatched,backlog_close\n"
        f"{day(2)},{office},inbound,U,900000,100,5000\n", encoding="utf-8")
    pipeline.run_night(paths, day(5))  # the same night again, after the late file arrived
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    received = con.execute("SELECT items_received FROM mart.office_daily WHERE office_code = ? "
                           "AND report_date = ? AND direction = 'inbound'", [office, day(2)]).fetchone()[0]
    outlook = con.execute("SELECT max(mean_28d) FROM mart.capacity_outlook WHERE office_code = ? "
                          "AND direction = 'inbound' AND as_of_date = ?", [office, day(5)]).fetchone()[0]
    con.close()
    assert received == 900000
    assert outlook > 900000 / 5  # the window of day 5 includes the corrected day 2


def test_quality_results_are_filed_under_the_data_day_of_a_late_file(tmp_path):
    """Issue 13.6: a day-1 report arriving on night 3 with a negative count: its failure shows
    on day 1 (recorded by night 3), not on day 3; day 3's own results stay on day 3."""
    landing = make_landing(tmp_path, days=3, scale=0.01, seed=4)
    paths = paths_for(landing, tmp_path / "w.duckdb")
    pipeline.run_night(paths, day(1))
    pipeline.run_night(paths, day(2))
    (landing / "exchange_office" / day(1).isoformat() / "CNBJSA_late.csv").write_text(
        "report_date,office_code,direction,mail_class,items_received,items_dispatched\n"
        f"{day(1)},CNBJSA,inbound,U,-7,10\n", encoding="utf-8")
    pipeline.run_night(paths, day(3))
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        rows = con.execute("""SELECT report_date, success, rows_failed FROM mart.quality_daily
                              WHERE feed = 'exchange_office' AND check_name = 'negative_count'
                                AND column_name = 'items_received' AND run_date = ?
                              ORDER BY report_date""", [day(3)]).fetchall()
    finally:
        con.close()
    by_day = {d: (ok, n) for d, ok, n in rows}
    assert by_day[day(1)] == (False, 1)
    assert day(3) in by_day and day(2) not in by_day  # night 3 checked data of days 1 and 3 only


def test_outcome_does_not_depend_on_how_ingest_grouped_the_files(tmp_path):
    """The DAG hands `load` its manifests chunk by chunk, the CLI in plan order: which of two
    deliveries of an office-day in one night wins (the later modification time, then the path),
    and which copy of an event is the duplicate, must not depend on that order."""
    from pipeline_helpers import diff, snapshot

    landing = make_landing(tmp_path, days=2, scale=0.01, seed=4)
    folder = landing / "exchange_office" / day(2).isoformat()
    original = sorted(p for p in folder.iterdir() if p.suffix == ".csv" and "CNBJSA" in p.name)[0]
    head, *rows = original.read_text(encoding="utf-8-sig").splitlines()
    v2 = folder / "CNBJSA_v2.csv"
    v2.write_text("\n".join([head, *rows[:1]]) + "\n", encoding="utf-8")  # a correction: one row
    t = original.stat().st_mtime
    os.utime(v2, (t + 60, t + 60))  # delivered later: v2 wins
    events = landing / "item_events" / day(2).isoformat()
    src = sorted(events.glob("*.jsonl"))[0]
    (events / "resend.jsonl").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")

    def run(warehouse, reorder):
        paths = paths_for(landing, warehouse)
        for n in (1, 2):
            manifests = pipeline.ingest_files(paths, pipeline.plan(paths, day(n)))
            pipeline.load(paths, day(n), reorder(manifests))
            for step in (pipeline.build_staging, pipeline.build_core, pipeline.build_marts,
                         pipeline.validate_marts, pipeline.publish):
                step(paths, day(n))
        return paths.warehouse

    plan_order = run(tmp_path / "a" / "w.duckdb", lambda m: m)
    reversed_ = run(tmp_path / "b" / "w.duckdb", lambda m: m[::-1])
    # observed_value holds GX's sample of failing rows, taken in scan order: not compared
    drop = ("loaded_at", "first_seen_at", "file_id", "superseded_by", "observed_value")
    assert not diff(snapshot(plan_order, drop=drop), snapshot(reversed_, drop=drop))
    con = duckdb.connect(str(plan_order), read_only=True)
    try:
        statuses = dict(con.execute("SELECT path, status FROM mart.load_ledger WHERE path IN (?, ?)",
                                    [original.relative_to(landing).as_posix(),
                                     v2.relative_to(landing).as_posix()]).fetchall())
        dup = con.execute("SELECT rows_duplicate FROM mart.load_ledger WHERE path LIKE '%/resend.jsonl'"
                          ).fetchone()[0]
    finally:
        con.close()
    assert statuses == {original.relative_to(landing).as_posix(): "superseded",
                        v2.relative_to(landing).as_posix(): "loaded"}
    assert dup > 0
