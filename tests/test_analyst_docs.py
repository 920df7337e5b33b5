"""The warehouse documents itself (issue 5): comments on every mart table and column, a
generated reference page that must not be stale, analyst queries from the docs executed, and
the analyst commands (sql, summary)."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import REPO, clearcap, day, make_landing, paths_for
from transforms.catalog import mart_tables
from transforms.docs import reference_markdown
from transforms.pipeline import run_night



@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analyst")
    landing = make_landing(root, days=5, scale=0.02, seed=5)
    wh = root / "w.duckdb"
    run_night(paths_for(landing, wh), day(5))
    return wh


def test_reference_page_is_not_stale():
    page = (REPO / "docs" / "warehouse.md").read_text(encoding="utf-8")
    assert page == reference_markdown(), "docs/warehouse.md is stale: run `make docs`"


def test_every_mart_table_and_column_has_a_comment(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    tables = con.execute("SELECT table_name, comment FROM duckdb_tables() "
                         "WHERE schema_name = 'mart'").fetchall()
    columns = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                          "WHERE schema_name = 'mart'").fetchall()
    con.close()
    assert {t for t, _ in tables} >= set(mart_tables())
    assert [t for t, c in tables if not c] == []
    assert [(t, c) for t, c, text in columns if not text] == []


def analyst_queries() -> list[str]:
    text = (REPO / "docs" / "analyst-guide.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_the_guide_has_queries():
    assert len(analyst_queries()) >= 8


@pytest.mark.parametrize("i", range(len(analyst_queries())))
def test_analyst_queries_from_the_docs_run(warehouse, i):
    query = analyst_queries()[i]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(query)
        rows = cur.fetchall()
        assert cur.description
    finally:
        con.close()
    assert isinstance(rows, list)


def test_sql_command_formats_and_stays_read_only(warehouse):
    base = ("sql", "--warehouse", str(warehouse))
    table = subprocess.run(**clearcap(*base, "SELECT office_code, count(*) AS n FROM mart.office_daily GROUP BY 1 ORDER BY 1"),
                           capture_output=True, text=True, check=True).stdout
    assert "office_code" in table and "rows)" in table
    rows = json.loads(subprocess.run(**clearcap(*base, "--format", "json", "SELECT count(*) AS n FROM mart.offices"),
                                     capture_output=True, text=True, check=True).stdout)
    con = duckdb.connect(str(warehouse), read_only=True)
    assert rows[0]["n"] == con.execute("SELECT count(*) FROM mart.offices").fetchone()[0]
    con.close()
    csv_out = subprocess.run(**clearcap(*base, "--format", "csv", "SELECT 1 AS a, 'x' AS b"),
                             capture_output=True, text=True, check=True).stdout
    assert csv_out.splitlines() == ["a,b", "1,x"]
    write = subprocess.run(**clearcap(*base, "DELETE FROM mart.alerts"), capture_output=True, text=True)
    assert write.returncode != 0 and "read-only" in write.stderr.lower()


def test_summary_is_bilingual_and_names_the_day(warehouse):
    out = subprocess.run(**clearcap("summary", "--warehouse", str(warehouse)), capture_output=True,
                         text=True, check=True).stdout
    for needle in ("National headline", "全国概况", "Missing reports", "未报", "Alerts", "告警",
                   day(5).isoformat()):
        assert needle in out


# The literals of the guide's item-level queries (valid for the demo), replaced in the tests by
# values picked from the test's own warehouse.
GUIDE_ITEM = "'RR000164273KH'"
GUIDE_OFFICE, GUIDE_DAY = "'CNCANA'", "DATE '2026-03-05'"
GUIDE_LANE, GUIDE_MONTH = ("'CNSHAA'", "'US'"), ("DATE '2026-03-01'", "DATE '2026-04-01'")


def _guide_query(marker: str) -> str:
    [query] = [q for q in analyst_queries() if marker in q]
    return query


def _with(query: str, **values) -> str:
    for old, new in values.items():
        assert old in query, old
        query = query.replace(old, new)
    return query


def _lit(text) -> str:
    return "'" + str(text) + "'"


def _rows_everywhere(warehouse: Path, query: str) -> list[tuple]:
    """The query's rows on a read-only connection, checked against `clearcap sql` (and the
    `duckdb -readonly` command when installed): the same rows from each."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(query)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    out = subprocess.run(**clearcap("sql", "--warehouse", str(warehouse), "--format", "json", query),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [[str(r[n]) if r[n] is not None else None for n in names] for r in json.loads(out.stdout)] == \
        [[str(v) if v is not None else None for v in r] for r in rows]
    cli = _duckdb_cli()
    if cli:
        out = subprocess.run([cli, "-readonly", "-csv", str(warehouse), "-c", query], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) == len(rows) + 1 and out.stdout.splitlines()[0] == ",".join(names)
    return rows


def _duckdb_cli() -> str | None:
    """The `duckdb` command of PyPI's duckdb-cli (a dev dependency), beside this Python or on PATH."""
    beside = Path(sys.executable).with_name("duckdb")
    return str(beside) if beside.exists() else shutil.which("duckdb")


def test_the_published_file_opens_with_the_duckdb_command(warehouse):
    cli = _duckdb_cli()
    if cli is None:
        pytest.skip("no `duckdb` command (pip install duckdb-cli==1.5.6, a dev dependency)")
    out = subprocess.run([cli, "-readonly", "-csv", str(warehouse), "-c",
                          "SELECT count(*) > 0 AS ok FROM items.events"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["ok", "true"], out.stderr


def test_guide_timeline_of_one_item(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    item, n_events = con.execute("SELECT item_id, count(*) FROM items.events GROUP BY 1 "
                                 "ORDER BY count(DISTINCT event_day) DESC, count(*) DESC, 1 LIMIT 1").fetchone()
    con.close()
    rows = _rows_everywhere(warehouse, _with(_guide_query("FROM items.events e\n"), **{GUIDE_ITEM: _lit(item)}))
    assert len(rows) == n_events > 2
    assert [r[-1] for r in rows] == sorted(r[-1] for r in rows)  # in time order
    for local, offset_h, code, office, name_en, name_zh, *_, utc in rows:
        assert local == utc + timedelta(hours=offset_h)
        if office.startswith("CN"):
            assert name_en and name_zh, office


def test_guide_worklist_of_items_in_customs_over_72h(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    office, as_of, stock = con.execute(
        "SELECT office_code, release_date, sum(in_customs_close) FROM mart.customs_dwell_daily "
        "WHERE release_date = (SELECT max(release_date) FROM mart.customs_dwell_daily) GROUP BY ALL "
        "ORDER BY 3 DESC, 1 LIMIT 1").fetchone()
    con.close()
    query = _with(_guide_query("in_customs AS"), **{GUIDE_OFFICE: _lit(office), GUIDE_DAY: f"DATE {_lit(as_of)}"})
    # with no threshold, the worklist is the mart's stock in customs at the end of that day
    everyone = _rows_everywhere(warehouse, _with(query, **{"> 72": "> 0"}))
    assert len(everyone) == stock > 0
    rows = _rows_everywhere(warehouse, query)
    assert rows and sorted(rows) == sorted(r for r in everyone if r[-1] > 72)
    assert [r[-1] for r in rows] == sorted((r[-1] for r in rows), reverse=True)
    assert all(r[2] is not None for r in rows)  # every item's presented time found among its events
    assert any(r[3] is not None for r in everyone)  # some were held, with a retention code


def test_guide_lane_month_from_items_equals_the_mart(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    origin, dest, week = con.execute("SELECT origin_office, destination_country, iso_week FROM mart.lane_weekly "
                                     "ORDER BY items_arrived DESC, 1, 2, 3 LIMIT 1").fetchone()
    first = con.execute("SELECT date_trunc('month', min(dispatch_date))::DATE FROM items.dispatch "
                        "WHERE strftime(dispatch_date, '%G-W%V') = ?", [week]).fetchone()[0]
    nxt = (first + timedelta(days=32)).replace(day=1)
    mart = con.execute("SELECT * FROM mart.lane_weekly WHERE origin_office = ? AND destination_country = ? "
                       "AND iso_week IN (SELECT DISTINCT strftime(d, '%G-W%V') FROM range(?::DATE, ?::DATE, "
                       "INTERVAL 1 DAY) t(d)) ORDER BY iso_week", [origin, dest, first, nxt]).fetchall()
    con.close()
    rows = _rows_everywhere(warehouse, _with(
        _guide_query("FROM items.dispatch"), **{GUIDE_LANE[0]: _lit(origin), GUIDE_LANE[1]: _lit(dest),
                                                GUIDE_MONTH[0]: f"DATE {_lit(first)}", GUIDE_MONTH[1]: f"DATE {_lit(nxt)}"}))
    assert mart and len(rows) == len(mart) and any(r[4] > 0 for r in rows)
    for got, want in zip(rows, mart):
        assert got[:5] == want[:5]
        for g, w in zip(got[5:], want[5:]):  # means summed in another order may differ in the last bit
            assert (g is None and w is None) or math.isclose(g, w, rel_tol=1e-12), (got, want)


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["summary"], ["dashboard"]])
def test_missing_warehouse_is_a_message_not_a_traceback(tmp_path, capsys, command):
    from transforms.cli import main

    missing = tmp_path / "none.duckdb"
    assert main([command[0], "--warehouse", str(missing), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("clearcap: ") and str(missing) in err and "Traceback" not in err
