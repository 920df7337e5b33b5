"""Issue 13, finding 10: no data is interpolated into SQL text; one module quotes what cannot be bound."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQLISH = re.compile(r"\b(SELECT|INSERT|ATTACH|COPY|SET|DELETE|UPDATE|CREATE|DESCRIBE|FROM|read_parquet|read_csv)\b")
# A placeholder whose expression names a path-like thing carries data, whatever the quoting.
PATHISH = re.compile(r"path|dir|file|tmp|landing|warehouse|folder|seed|listing|out_", re.I)
# Printed for a person to copy, never executed.
NOT_EXECUTED = {("transforms/analyst.py", "day")}


def _sources():
    for py in sorted((ROOT / "transforms").rglob("*.py")):
        if "demo" not in py.relative_to(ROOT).parts:  # the demo generator writes files, runs no SQL
            yield py.relative_to(ROOT).as_posix(), py.read_text(encoding="utf-8")


def _module_literals(tree: ast.Module) -> set[str]:
    """Module constants bound to a string literal (regex patterns, delimiters): code, not data."""
    out = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def sql_interpolations(rel: str, src: str) -> list[str]:
    """Placeholders of SQL-looking f-strings that put a value inside quotes or carry a path."""
    tree = ast.parse(src)
    constants = _module_literals(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if not SQLISH.search(text):
            continue
        before = ""
        for v in node.values:
            if isinstance(v, ast.Constant):
                before = v.value
                continue
            expr = ast.get_source_segment(src, v.value) or ""
            fragment = (isinstance(v.value, ast.IfExp)  # a choice between two SQL fragments
                        and all(isinstance(b, ast.Constant) for b in (v.value.body, v.value.orelse)))
            in_quotes = before.rstrip().endswith("'") and expr not in constants and not fragment
            # transforms.db's quoting helpers make a value a safe literal (views take no parameter)
            carries_path = PATHISH.search(expr) and not expr.startswith(("quote_ident(", "quote_literal(", "quote_list("))
            if (in_quotes or carries_path) and (rel, expr) not in NOT_EXECUTED:
                found.append(f"{rel}:{v.value.lineno}: {{{expr}}}")
            before = ""
    return found


def test_no_fstring_carries_a_path_or_quoted_value_into_sql():
    found = [hit for rel, src in _sources() for hit in sql_interpolations(rel, src)]
    assert found == []


def test_the_scan_catches_the_patterns_it_is_for():
    bad = '''
def f(con, paths, tmp, files):
    con.execute(f"SET temp_directory = '{paths.state_dir}'")
    con.execute(f"ATTACH {quote(tmp)} AS pub")
    con.execute(f"SELECT * FROM read_parquet({_sql_list(files)})")
    con.execute(f"SET memory_limit = '{LIMIT}'")
    con.execute(f"CREATE VIEW v AS SELECT * FROM read_parquet('{quote_literal(path)}')")
'''
    assert len(sql_interpolations("x.py", bad)) == 5
    # the published items.* views name their files through transforms.db's helpers
    good = '''
def f(con, files, path):
    con.execute(f"CREATE VIEW pub.items.events AS SELECT * FROM read_parquet({quote_list(files)})")
    con.execute(f"CREATE VIEW pub.items.clearance AS SELECT * FROM read_parquet({quote_literal(path)})")
'''
    assert sql_interpolations("x.py", good) == []


def test_only_transforms_db_quotes_sql():
    """Quoting is done by transforms.db.quote_literal / quote_ident alone: no module escapes quotes itself."""
    escapes = re.compile(r"""replace\(\s*(["'])(\\?'|")\1\s*,\s*(["'])(\\?'\\?'|"")\3\s*\)""")
    offenders = [rel for rel, src in _sources() if escapes.search(src) and rel != "transforms/db.py"]
    assert offenders == []
    assert escapes.search((ROOT / "transforms" / "db.py").read_text(encoding="utf-8"))


def test_clearcap_run_under_folders_with_quotes_and_spaces(tmp_path):
    """`clearcap run` with the landing zone and the warehouse under `o'neil wh` and `"quoted" ...`
    folders publishes the same marts as the same files under plain folders."""
    import subprocess

    from pipeline_helpers import DAILY_MARTS, clearcap, copy_tree, day, diff, make_landing, paths_for, snapshot

    from transforms.pipeline import run_night

    plain = make_landing(tmp_path / "plain", days=2, scale=0.01, seed=5)
    odd = tmp_path / "o'neil wh" / 'landing "a" zone'
    copy_tree(plain, odd)
    odd_wh = tmp_path / "o'neil wh" / 'wh "b" dir' / "warehouse.duckdb"
    # two nights under the odd folders (the second reads the history the first wrote there),
    # by this checkout's command (pipeline_helpers.clearcap), like the in-process reference below
    out = subprocess.run(**clearcap("run", "--landing", str(odd), "--warehouse", str(odd_wh),
                                    "--date", day(1).isoformat(), "--to", day(2).isoformat()),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    # the reference: the same nights under plain folders, in this process
    plain_wh = tmp_path / "plain" / "wh" / "warehouse.duckdb"
    for night in (day(1), day(2)):
        run_night(paths_for(plain, plain_wh), night)
    assert odd_wh.with_name("warehouse_dashboard.html").is_file()
    # the indicators (file errors quote absolute paths, and GX samples row ids: those differ)
    got, expected = snapshot(odd_wh, DAILY_MARTS), snapshot(plain_wh, DAILY_MARTS)
    assert got["customs_dwell_daily"] and got["office_daily"]  # events and reports were read
    assert diff(got, expected) == {}
    lineage = {"load_ledger": ["path", "status", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"],
               "quarantine": ["path", "line", "rule"]}
    for table, cols in lineage.items():
        assert _rows(odd_wh, table, cols) == _rows(plain_wh, table, cols)


def _rows(warehouse: Path, table: str, cols: list[str]) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute(f"SELECT {', '.join(cols)} FROM mart.{table}").fetchall(), key=repr)
