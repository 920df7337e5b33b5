"""The warehouse documents itself (issue 5): comments on every mart table and column, a
generated reference page that must not be stale, analyst queries from the docs executed, and
the analyst commands (sql, summary)."""
from __future__ import annotations

import json
import re
import subprocess
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


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["summary"], ["dashboard"]])
def test_missing_warehouse_is_a_message_not_a_traceback(tmp_path, capsys, command):
    from transforms.cli import main

    missing = tmp_path / "none.duckdb"
    assert main([command[0], "--warehouse", str(missing), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("clearcap: ") and str(missing) in err and "Traceback" not in err
