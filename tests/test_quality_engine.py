"""The GX-on-DuckDB engine: metrics in DuckDB, regex semantics, S10, Data Docs, upgrade guards."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from transforms.quality import QualityError, build_data_docs, validate, validate_many

ROOT = Path(__file__).resolve().parents[1]
VALID = ["RR000164273KH", "EE123456785CN", "EA123456140CN", "LX123456025CN"]


def _suite(dir_: Path, name: str, expectations: list[dict]) -> None:
    for e in expectations:
        e.setdefault("meta", {"rule": "r_" + e["type"], "severity": "row", "description": "test"})
    (dir_ / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}))


@pytest.fixture()
def suites(tmp_path, monkeypatch):
    d = tmp_path / "expectations"
    d.mkdir()
    monkeypatch.setenv("CLEARCAP_EXPECTATIONS", str(d))
    return d


@pytest.fixture()
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "state.duckdb"))  # file database, open read-write
    c.execute("CREATE SCHEMA staging")
    yield c
    c.close()


def test_import_does_not_import_great_expectations():
    code = ("import sys, transforms.quality, transforms.quality as q; "
            "q.RuleOutcome; q.expectations_dir(); "
            "assert 'great_expectations' not in sys.modules, 'GX imported at module import time'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_gx_pins_and_what_the_sql_datasource_relies_on():
    """Fails when a GX / duckdb-engine / SQLAlchemy upgrade changes what transforms.quality.engine
    relies on (its module docstring): then rerun python -m bench.gx_engine and revisit
    docs/decisions/0005-gx-engine.md."""
    import duckdb_engine
    import great_expectations as gx
    import sqlalchemy
    from great_expectations.execution_engine import sqlalchemy_execution_engine as see
    from great_expectations.expectations.metrics import util

    from transforms.quality.engine import _AutocommitCursor

    assert gx.__version__.startswith("1.24."), gx.__version__
    assert duckdb_engine.__version__.startswith("0.17."), duckdb_engine.__version__
    assert duckdb.__version__.startswith("2.0."), duckdb.__version__
    assert sqlalchemy.__version__.startswith("2.1."), sqlalchemy.__version__
    # the autocommit cursor: duckdb-engine begins and rolls back on the DuckDB connection itself
    assert "connection.begin()" in inspect.getsource(duckdb_engine.Dialect.do_begin)
    assert issubclass(_AutocommitCursor, duckdb_engine.ConnectionWrapper)
    # the regex rendering: chosen from the engine's dialect_module, PostgreSQL's derives duckdb's
    assert "dialect.dialect" in inspect.getsource(util.get_dialect_regex_expression)
    assert "self.dialect_module" in inspect.getsource(see.SqlAlchemyExecutionEngine)
    assert issubclass(duckdb_engine.Dialect, sqlalchemy.dialects.postgresql.base.PGDialect)


def test_metrics_run_in_duckdb_not_pandas(con, suites, monkeypatch):
    import pandas

    from transforms.quality.engine import _AutocommitCursor

    con.execute("CREATE TABLE staging.t AS SELECT i AS _row_id, i - 3 AS n FROM range(1000) r(i)")
    _suite(suites, "s", [{"type": "expect_column_values_to_be_between",
                          "kwargs": {"column": "n", "min_value": 0}}])

    def forbidden(*a, **k):
        raise AssertionError("table copied into pandas")

    for name in ("read_sql", "read_sql_query", "read_sql_table"):
        monkeypatch.setattr(pandas, name, forbidden)
    import duckdb_engine

    cursors, queries = [], []
    orig_cursor, orig_execute = _AutocommitCursor.cursor, duckdb_engine.CursorWrapper.execute
    monkeypatch.setattr(_AutocommitCursor, "cursor", lambda self: cursors.append(self) or orig_cursor(self))
    monkeypatch.setattr(duckdb_engine.CursorWrapper, "execute",
                        lambda self, statement, *a, **k: queries.append(statement) or orig_execute(self, statement, *a, **k))
    [o] = validate(con, "staging.t", "s")
    # the metrics ran as SQL on cursors of con
    assert cursors and any("count(*)" in q and '"staging"."t"' in q for q in queries)
    assert o.observed["element_count"] == 1000          # metric results are not empty
    assert o.observed["unexpected_count"] == 3
    assert not o.success
    assert sorted(r[0] for r in con.execute(o.failing_ids_sql).fetchall()) == [0, 1, 2]
    # our connection is still open and writable
    con.execute("INSERT INTO staging.t VALUES (1000, 5)")
    assert con.execute("SELECT count(*) FROM staging.t").fetchone()[0] == 1001


def test_regex_does_not_select_every_row(con, suites):
    con.execute("""CREATE TABLE staging.r AS SELECT * FROM (VALUES
        (1, '12', 'xaby'), (2, 'ab', 'ab'), (3, '3x', 'b'), (4, NULL, 'zzz'), (5, '4', NULL)) t(_row_id, s, u)""")
    _suite(suites, "re", [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": r"^\d+$"}},
        # unanchored: a partial (search) match, as GX's pandas engine (str.contains)
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "u", "regex": "ab"}},
        {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": "s", "regex": r"\d$"}},
    ])
    by = {(o.expectation_type, o.column): o for o in validate(con, "staging.r", "re")}
    digits = by["expect_column_values_to_match_regex", "s"]
    partial = by["expect_column_values_to_match_regex", "u"]
    not_match = by["expect_column_values_to_not_match_regex", "s"]
    assert "\\\\" not in digits.observed["unexpected_rows_sql"]
    ids = lambda o: sorted(r[0] for r in con.execute(o.failing_ids_sql).fetchall())  # noqa: E731
    assert ids(digits) == [2, 3] and digits.observed["unexpected_count"] == 2
    assert ids(partial) == [3, 4]
    assert ids(not_match) == [1, 5]


def test_s10_expectation_in_sql(con, suites):
    from transforms.quality.s10 import is_valid_s10

    values = list(VALID)
    for v in VALID:  # every single-digit change of every vector
        for pos in range(2, 11):
            values += [v[:pos] + d + v[pos + 1:] for d in "0123456789" if d != v[pos]]
    values += ["rr000164273KH", "RR00016427KH", "RR0001642733KH", "RRA00164273KH", " RR000164273KH"]
    con.execute("CREATE TABLE staging.s10 (_row_id BIGINT, item_id VARCHAR)")
    con.executemany("INSERT INTO staging.s10 VALUES (?, ?)", list(enumerate(values)))
    _suite(suites, "s10", [{"type": "expect_column_values_to_be_valid_s10", "kwargs": {"column": "item_id"}}])
    [o] = validate(con, "staging.s10", "s10")
    assert o.expectation_type == "expect_column_values_to_be_valid_s10"
    bad = {r[0] for r in con.execute(o.failing_ids_sql).fetchall()}
    expected_bad = {i for i, v in enumerate(values) if not is_valid_s10(v)}
    assert bad == expected_bad
    assert not bad & set(range(4))                     # the 4 test vectors are valid
    # a changed check digit is always caught; a changed serial digit is caught unless it maps to
    # the same check digit (C = 5 arises from both C = 11 and sum mod 11 = 6: inherent to S10)
    for i, v in enumerate(values[4:], start=4):
        if v[:10] in {x[:10] for x in VALID}:
            assert i in bad, v
    assert len(bad) > 0.95 * (len(values) - 4)
    assert [is_valid_s10(v) for v in VALID] == [True] * 4


def test_missing_suite_and_broken_expectation_raise(con, suites):
    con.execute("CREATE TABLE staging.x AS SELECT 1 AS _row_id, 2 AS a")
    with pytest.raises(QualityError):
        validate(con, "staging.x", "nope")
    _suite(suites, "broken", [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "zz"}}])
    with pytest.raises(QualityError, match="could not run"):
        validate(con, "staging.x", "broken")


def test_data_docs_offline(con, suites, tmp_path):
    con.execute("CREATE TABLE staging.d AS SELECT i AS _row_id, i - 1 AS n, 'v' || i AS s FROM range(50) r(i)")
    _suite(suites, "docs", [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": r"^v\d+$"}},
    ])
    report = validate_many(con, [("staging.d", "docs"), ("staging.d", "docs", "_row_id > 0")])
    assert [r.success for r in report.runs] == [False, True]
    index = build_data_docs(report, tmp_path / "datadocs")
    assert index.name == "index.html" and index.exists()
    pages = list(index.parent.rglob("*.html"))
    assert len(pages) >= 3  # index + 2 validation pages
    external = re.compile(r"""<(?:script|link)\b[^>]*(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)
    for page in pages:
        assert not external.search(page.read_text(encoding="utf-8")), page
    assert "docs" in index.read_text(encoding="utf-8")


def test_data_docs_share_one_copy_of_the_static_assets(con, suites, tmp_path):
    """Issue 11: nights' sites keep GX's static assets once, under the Data Docs root; each page
    finds them (and GX's logo) by a relative link that resolves from file://."""
    con.execute("CREATE TABLE staging.d AS SELECT i AS _row_id, i - 1 AS n FROM range(20) r(i)")
    _suite(suites, "docs", [{"type": "expect_column_values_to_be_between",
                             "kwargs": {"column": "n", "min_value": 0}}])
    report = validate_many(con, [("staging.d", "docs")])
    root = tmp_path / "datadocs"
    sizes = []
    for night in ("2026-01-01", "2026-01-02", "2026-01-03"):
        for step in ("batch", "marts"):
            build_data_docs(report, root / night / step, static_dir=root / "static")
        sizes.append(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()))
    assert [p.relative_to(root).as_posix() for p in root.rglob("static")] == ["static"]
    static_bytes = sum(p.stat().st_size for p in (root / "static").rglob("*") if p.is_file())
    assert static_bytes > 1_000_000 and (root / "static" / "images" / "logo-long.png").is_file()
    # after the first night only the pages grow: a few kB a night, not GX's ~4 MB of assets
    assert sizes[0] > static_bytes and sizes[2] - sizes[1] == pytest.approx(sizes[1] - sizes[0], rel=0.2)
    assert sizes[2] - sizes[1] < 200_000
    asset = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)=["']([^"'#]+)["']""", re.I)
    pages = list(root.rglob("*.html"))
    assert len(pages) == 12
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "great-expectations-web-assets" not in text, page
        links = asset.findall(text)
        assert len(links) >= 4, page  # bootstrap css + js, jquery, favicon, logo
        for link in links:
            target = (page.parent / link).resolve()
            assert target.is_file() and (root / "static").resolve() in target.parents, (page, link)
