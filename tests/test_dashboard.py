"""Fast tests of the dashboard build (no browser): self-contained HTML, embedded data,
read-only access closed at once, tolerance of absent tables/columns, atomic write.

The warehouse is one the real pipeline published for a tiny seeded demo landing zone
(``make_pipeline_warehouse``: built once, then copied); only the long-history size test uses
the synthetic generator (see transforms/dashboard/sample.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb
import pytest

from transforms import dashboard as dash
from transforms.dashboard import build_dashboard, load_dashboard_data
from transforms.dashboard.data import _as_list
from transforms.dashboard.render import embed_json
from transforms.dashboard.sample import (PIPELINE_END, make_pipeline_warehouse, make_sample_warehouse,
                                         pipeline_warehouse)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return make_pipeline_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")  # 2026-01-31 .. 03-01


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="clearcap-data">(.*?)</script>', html, re.S)
    assert m, "data block missing"
    return json.loads(m.group(1))


def test_html_is_self_contained_and_embeds_data(warehouse: Path, tmp_path: Path):
    out = build_dashboard(warehouse, tmp_path / "sub" / "dashboard.html")
    assert out == tmp_path / "sub" / "dashboard.html" and out.is_file()
    html = out.read_text(encoding="utf-8")
    # no external resource of any kind
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html, re.I)
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=|@import|url\(\s*["\']?https?:', html, re.I)
    assert not re.search(r'\b(?:fetch|XMLHttpRequest|WebSocket|EventSource|importScripts)\s*\(', html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # data embedded, complete
    data = embedded(html)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table in ("office_daily", "customs_dwell_daily", "national_daily", "centre_daily",
                      "capacity_outlook", "lane_weekly", "destination_monthly", "load_ledger",
                      "quality_daily", "alerts", "offices", "office_stay_daily"):
            # undated rows are not on the page: the ledger's row of reference/offices.csv has no
            # report_date, and the date window leaves it out (neither inline nor in a period)
            where = " WHERE report_date IS NOT NULL" if table == "load_ledger" else ""
            n = con.execute(f"SELECT count(*) FROM mart.{table}{where}").fetchone()[0]
            assert n and len(data[table]["rows"]) == n, table
        nq = con.execute("SELECT count(*) FROM mart.quarantine").fetchone()[0]
        # values read from the warehouse are the page's
        nd = data["national_daily"]
        latest = {(r[0], r[1]): r for r in con.execute(
            "SELECT report_date::VARCHAR, direction, items_received, items_dispatched FROM mart.national_daily "
            "WHERE report_date = (SELECT max(report_date) FROM mart.national_daily)").fetchall()}
    finally:
        con.close()
    assert nq and sum(r[3] for r in data["quarantine_summary"]["rows"]) == nq
    assert data["meta"]["latest_date"] == PIPELINE_END.isoformat()
    page = {(r[0], r[1]): r for r in nd["rows"]}
    i, j = nd["columns"].index("items_received"), nd["columns"].index("items_dispatched")
    assert latest and all(page[k][i] == v[2] and page[k][j] == v[3] for k, v in latest.items())
    # bilingual labels for every section
    for label in ("全国概况", "National headline", "利用率", "utilization", "海关时长", "Customs dwell",
                  "产能展望", "Capacity outlook", "航线", "Lanes", "目的地", "Destinations",
                  "监管中心", "Supervision centres", "数据质量", "Data quality", "互换局/中心 Office",
                  "方向 Direction", "起 From", "止 To"):
        assert label in html, label
    # lane weeks mapped to their Monday for date filtering
    lw = data["lane_weekly"]
    row = dict(zip(lw["columns"], lw["rows"][0]))
    assert row["week_start"] and row["iso_week"].startswith(row["week_start"][:4])


def test_opens_read_only_and_closes_at_once(warehouse: Path, tmp_path: Path, monkeypatch):
    calls = []
    real = duckdb.connect

    def spy(*args, **kwargs):
        con = real(*args, **kwargs)
        calls.append((args, kwargs))
        return con

    monkeypatch.setattr(duckdb, "connect", spy)
    before = warehouse.stat().st_mtime_ns, warehouse.read_bytes()
    build_dashboard(warehouse, tmp_path / "d.html")
    monkeypatch.undo()
    assert len(calls) == 1 and calls[0][1].get("read_only") is True
    assert (warehouse.stat().st_mtime_ns, warehouse.read_bytes()) == before
    # closed: a read-write connection in this same process is possible right away
    con = duckdb.connect(str(warehouse))
    con.close()


def test_missing_warehouse_is_an_error_and_not_created(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        build_dashboard(tmp_path / "nope.duckdb", tmp_path / "d.html")
    assert not (tmp_path / "nope.duckdb").exists() and not (tmp_path / "d.html").exists()


def test_absent_or_empty_optional_tables(tmp_path: Path):
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb",
                                 omit=("lane_weekly", "quarantine", "alerts", "quality_daily"),
                                 empty=("destination_monthly", "capacity_outlook"))
    data = embedded(build_dashboard(wh, tmp_path / "d.html").read_text(encoding="utf-8"))
    assert data["lane_weekly"] == {"available": False, "columns": data["lane_weekly"]["columns"],
                                   "rows": []}
    assert data["quarantine_summary"]["available"] is False
    assert data["destination_monthly"]["available"] is True
    assert data["destination_monthly"]["rows"] == []
    assert data["office_daily"]["rows"]


def test_missing_columns_and_single_language_message(tmp_path: Path):
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(wh))
    # a warehouse with only the one-language `message` column (the published file has all three)
    con.execute("UPDATE mart.alerts SET message = message_en || ' / ' || message_zh")
    con.execute("ALTER TABLE mart.alerts DROP COLUMN message_zh")
    con.execute("ALTER TABLE mart.alerts DROP COLUMN message_en")
    con.execute("ALTER TABLE mart.national_daily DROP COLUMN share_within_24h")
    # quality_daily.offices_missing as published (comma-separated text), observed_value as non-JSON text
    con.execute("UPDATE mart.quality_daily SET observed_value = 'n/a' WHERE NOT success AND report_date = "
                "(SELECT min(report_date) FROM mart.quality_daily WHERE NOT success)")
    published_missing = {tuple(r[0].split(",")) for r in con.execute(
        "SELECT offices_missing FROM mart.quality_daily WHERE offices_missing <> ''").fetchall()}
    con.close()
    data = load_dashboard_data(wh)
    al = data["alerts"]
    msgs = [dict(zip(al["columns"], r)) for r in al["rows"]]
    assert msgs and all(m["message_zh"] and m["message_zh"] == m["message_en"] for m in msgs)
    nd = data["national_daily"]
    i = nd["columns"].index("share_within_24h")
    assert all(r[i] is None for r in nd["rows"])
    qd = data["quality_daily"]
    om, ob = qd["columns"].index("offices_missing"), qd["columns"].index("observed_value")
    assert published_missing and published_missing <= {tuple(r[om]) for r in qd["rows"]}
    assert all(isinstance(r[om], list) for r in qd["rows"])
    failed = [r for r in qd["rows"] if r[qd["columns"].index("success")] is False]
    assert any(r[ob] == "n/a" for r in failed) and any(isinstance(r[ob], dict) for r in failed)
    # the page shows the observation of failed checks only: the others are not embedded
    assert len(failed) < len(qd["rows"]) and all(r[ob] is None for r in qd["rows"] if r not in failed)


def test_atomic_write_keeps_previous_file_on_failure(warehouse: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "dashboard.html"
    out.write_text("previous", encoding="utf-8")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        build_dashboard(warehouse, out)
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.html"]
    build_dashboard(warehouse, out)
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_embedded_json_cannot_break_out_of_its_script(tmp_path: Path):
    nasty = {"raw": "</script><script>alert(1)</script><!-- \u2028 & é 中文", "nan": None}
    text = embed_json(nasty)
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == nasty
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(wh))
    con.execute("UPDATE mart.quarantine SET raw = ?", [nasty["raw"]])
    con.execute("UPDATE mart.office_daily SET backlog_days = 'NaN'::DOUBLE")
    con.close()
    html = build_dashboard(wh, tmp_path / "d.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    data = embedded(html)
    assert data["quarantine_sample"]["rows"][0][5] == nasty["raw"]
    i = data["office_daily"]["columns"].index("backlog_days")
    assert all(r[i] is None for r in data["office_daily"]["rows"])


@pytest.mark.parametrize("value, expected", [
    (None, []), ([], []), (["A", None, "B"], ["A", "B"]), ("", []), ("CNA,CNB", ["CNA", "CNB"]),
    ('["CNA", "CNB"]', ["CNA", "CNB"]), ("['CNA', 'CNB']", ["CNA", "CNB"]), ("CNA CNB", ["CNA", "CNB"]),
])
def test_offices_missing_forms(value, expected):
    assert _as_list(value) == expected


def test_cli_main(warehouse: Path, tmp_path: Path, capsys):
    from transforms.cli import main

    assert main(["dashboard", "--warehouse", str(warehouse), "--out", str(tmp_path / "x.html")]) == 0
    assert (tmp_path / "x.html").is_file() and "dashboard written" in capsys.readouterr().out
    # --sample never overwrites a warehouse
    assert main(["dashboard", "--warehouse", str(warehouse), "--out", str(tmp_path / "y.html"), "--sample"]) == 2
    assert not (tmp_path / "y.html").exists() and "refuses to overwrite" in capsys.readouterr().err
    sample = tmp_path / "sample.duckdb"
    assert main(["dashboard", "--warehouse", str(sample), "--out", str(tmp_path / "z.html"), "--sample"]) == 0
    assert sample.is_file() and (tmp_path / "z.html").is_file()
    # the preview is the warehouse the real pipeline publishes for the demo feeds
    assert sample.read_bytes() == pipeline_warehouse().read_bytes()


def test_waits_briefly_for_a_momentary_writer_lock(warehouse: Path, tmp_path: Path):
    import shutil
    import subprocess
    import sys

    warehouse = Path(shutil.copy(warehouse, tmp_path / "copy.duckdb"))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True);"
         " time.sleep(1.0); c.close()", str(warehouse)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = build_dashboard(warehouse, tmp_path / "d.html")
        assert out.is_file()
    finally:
        holder.wait(timeout=30)


def test_sample_warehouse_has_the_published_schema(tmp_path: Path):
    """Issue 13, finding 11: the synthetic sample (still used for long histories) takes its DDL from
    the marts' declaration (_mart.yml), so it cannot drift."""
    from transforms.catalog import mart_tables

    wh = make_sample_warehouse(tmp_path / "w.duckdb", days=5)
    con = duckdb.connect(str(wh), read_only=True)
    have = {}
    for table, column, dtype in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'mart' "
            "ORDER BY table_name, column_index").fetchall():
        have.setdefault(table, {})[column] = dtype
    con.close()
    assert have and all(have[t] == {c: typ for c, (typ, _) in mart_tables()[t]["columns"].items()}
                        for t in have)


def test_quality_table_reads_the_published_columns(warehouse: Path):
    qd = load_dashboard_data(warehouse)["quality_daily"]
    rows = [dict(zip(qd["columns"], r)) for r in qd["rows"]]
    failed = [r for r in rows if r["success"] is False]
    assert rows and failed
    assert all(r["check_name"] for r in rows) and all(r["observed_value"] is None for r in rows if r not in failed)
    # each failed check's rule and observation, as the pipeline published them (JSON text, parsed)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        published = con.execute("SELECT feed, report_date::VARCHAR, check_name, observed_value "
                                "FROM mart.quality_daily WHERE NOT success").fetchall()
    finally:
        con.close()
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(([f, d, c, json.loads(o)] for f, d, c, o in published), key=key) == sorted(
        ([r["feed"], r["report_date"], r["check_name"], r["observed_value"]] for r in failed), key=key)
    assert any(isinstance(r["observed_value"], dict) for r in failed)


def period_file(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("clearcapPeriod(") and text.endswith(");\n")
    return json.loads(text[len("clearcapPeriod("):-3])


DATED = {"office_daily": "report_date", "customs_dwell_daily": "release_date", "national_daily": "report_date",
         "centre_daily": "report_date", "capacity_outlook": "as_of_date", "office_stay_daily": "departure_date",
         "alerts": "as_of_date", "load_ledger": "report_date", "quality_daily": "report_date",
         "lane_weekly": "week_start", "destination_monthly": "month", "quarantine_summary": "run_date"}


def test_older_months_are_period_files_written_once(tmp_path: Path):
    """Issue 11: the page inlines whole months covering max_days; each older month is a script
    beside it, complete and disjoint from the inline data, rewritten only when its rows change.
    The pipeline's 30 days (2026-01-31 .. 03-01) with a one-day window: March inline, January
    and February period files."""
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb")
    out = build_dashboard(wh, tmp_path / "d.html", max_days=1)
    folder = tmp_path / "d_data"
    data = embedded(out.read_text(encoding="utf-8"))
    assert data["meta"]["since"] == "2026-03-01" and data["meta"]["period_dir"] == "d_data"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [p["month"] for p in data["meta"]["periods"]] == sorted(manifest)
    assert sorted(manifest) == ["2026-01", "2026-02"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{m}.js" for m in manifest) + ["manifest.json"]
    assert {p["month"]: p["version"] for p in data["meta"]["periods"]} == manifest
    months = {m: period_file(folder / f"{m}.js") for m in manifest}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for table, col in DATED.items():
            inline = data[table]
            i = inline["columns"].index(col)
            # inline from `since` on (a week from the one `since` falls in, Monday 02-23)
            start = "2026-02-23" if table == "lane_weekly" else data["meta"]["since"]
            assert all(r[i] >= start[:len(r[i])] for r in inline["rows"]), table
            n = len(inline["rows"])
            for m, p in months.items():
                assert p["month"] == m and p["version"] == manifest[m]
                t = p["tables"][table]
                assert t["columns"] == inline["columns"], table
                assert all(r[i][:7] == m for r in t["rows"]), (table, m)
                n += len(t["rows"])
            if table == "quarantine_summary":
                assert n == con.execute("SELECT count(*) FROM (SELECT DISTINCT run_date, feed, rule "
                                        "FROM mart.quarantine)").fetchone()[0]
            else:
                # every dated row, inline or in one period (the reference file's ledger row has no date)
                dated = "iso_week" if table == "lane_weekly" else col
                assert n == con.execute(f"SELECT count(*) FROM mart.{table} WHERE {dated} IS NOT NULL").fetchone()[0], table
        # every day-grain table has older rows: the periods are not just the monthly tables
        for table in ("office_daily", "national_daily", "centre_daily", "office_stay_daily", "quality_daily"):
            assert all(months[m]["tables"][table]["rows"] for m in months), table
    finally:
        con.close()
    # the oldest month holds January's one day only, the inline window starts in March
    nd = months["2026-01"]["tables"]["national_daily"]
    assert {r[0] for r in nd["rows"]} == {"2026-01-31"}
    assert {r[0] for r in months["2026-02"]["tables"]["national_daily"]["rows"]} == {
        f"2026-02-{d:02d}" for d in range(1, 29)}

    # a rebuild with nothing changed reads and writes no period
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.js")}
    assert dash.read_dashboard(wh, 1, written=dash.written_versions(folder)).periods == {}
    build_dashboard(wh, out, max_days=1)
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.js")} == stamps

    # a late change to one February day rewrites February only
    con = duckdb.connect(str(wh))
    office = con.execute("SELECT min(office_code) FROM mart.office_daily WHERE report_date = '2026-02-15'").fetchone()[0]
    con.execute("UPDATE mart.office_daily SET items_received = 424242 "
                "WHERE report_date = '2026-02-15' AND office_code = ?", [office])
    con.close()
    assert list(dash.read_dashboard(wh, 1, written=dash.written_versions(folder)).periods) == ["2026-02"]
    build_dashboard(wh, out, max_days=1)
    assert all((folder / f).stat().st_mtime_ns == t for f, t in stamps.items() if f != "2026-02.js")
    feb = period_file(folder / "2026-02.js")
    assert feb["version"] != manifest["2026-02"]
    od = feb["tables"]["office_daily"]
    assert 424242 in [r[od["columns"].index("items_received")] for r in od["rows"]]

    # a wider inline window takes the months back in: their files go
    big = embedded(build_dashboard(wh, out, max_days=400).read_text(encoding="utf-8"))
    assert big["meta"]["periods"] == [] and sorted(p.name for p in folder.iterdir()) == ["manifest.json"]
    assert len(big["office_daily"]["rows"]) > len(data["office_daily"]["rows"])


def test_inline_size_is_bounded_by_the_window(tmp_path: Path):
    """Synthetic warehouses: 100 and 300 days of real pipeline runs would cost minutes (see sample.py)."""
    short = make_sample_warehouse(tmp_path / "short.duckdb", days=100)
    long = make_sample_warehouse(tmp_path / "long.duckdb", days=300)
    a = build_dashboard(short, tmp_path / "a.html", max_days=40).stat().st_size
    b = build_dashboard(long, tmp_path / "b.html", max_days=40).stat().st_size
    # both inline 2026-01-01 .. 03-01: three times the history adds period files only
    assert abs(b - a) < 0.05 * a
    def period_bytes(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*.js"))

    assert period_bytes(tmp_path / "b_data") > 3 * period_bytes(tmp_path / "a_data") > 3 * 0.5 * a
