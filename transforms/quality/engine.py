"""GX runner: suites from ``expectations/*.json`` validated in DuckDB, outcomes, Data Docs.

This module imports great_expectations (~9 s cold): ``transforms.quality`` imports it lazily.

The suites run on GX's own SQL datasource (``data_sources.add_sql``, SQLAlchemy through
duckdb-engine) whose engine hands out cursors of the caller's open DuckDB connection (a cursor
is a second connection to the same database instance; closing it leaves ``con`` open; it does
not see what ``con`` has not committed). Three settings make it work on DuckDB (GX 1.24.1,
duckdb-engine 0.17, duckdb 2.0.1, SQLAlchemy 2.1; docs/decisions/0005-gx-engine.md has the
figures; tests/test_quality_engine.py fails when an upgrade changes what they rely on):

* The cursors are in autocommit (``_AutocommitCursor``: begin and rollback do nothing). GX runs
  every metric query inside ``with connection:`` and fetches after the block; SQLAlchemy's
  close rolls back, and a ROLLBACK on a DuckDB connection discards its pending result, so every
  metric came back empty. duckdb-engine has no AUTOCOMMIT isolation level to say this with.
* Every batch is a query asset (``SELECT * FROM schema.table``): duckdb-engine's column
  reflection queries ``pg_catalog.pg_collation``, which DuckDB 2.0 lacks, and GX's fallback probe
  for a table asset drops the schema.
* The execution engine renders regex as PostgreSQL (``dialect_module``): GX knows no regex
  syntax for a dialect named duckdb. duckdb-engine's dialect derives from PostgreSQL's, and
  DuckDB's ``~`` is a partial (search) match exactly like PostgreSQL's and GX's pandas
  ``str.contains``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import duckdb  # noqa: E402
import great_expectations as gx  # noqa: E402
import sqlalchemy.dialects.postgresql  # noqa: E402
from duckdb_engine import ConnectionWrapper  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.data_context.types.resource_identifiers import (  # noqa: E402
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from transforms.db import quote_ident  # noqa: E402
from . import RuleOutcome, SuiteRun, Report, QualityError, load_suite_json  # noqa: E402
from . import s10 as _s10  # noqa: E402,F401  (registers expect_column_values_to_be_valid_s10)

PARTIAL_UNEXPECTED = 20
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _context(data_docs_dir: Path | None = None):
    """Ephemeral context (nothing written anywhere unless a Data Docs dir is given)."""
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if data_docs_dir is not None:
        ctx.add_data_docs_site(
            site_name="clearcap",
            site_config={
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(data_docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


class _AutocommitCursor(ConnectionWrapper):
    """A cursor of the pipeline's connection as SQLAlchemy's DBAPI connection, in autocommit
    (module docstring): nothing to begin, nothing to roll back, the pending result kept."""

    def begin(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def _datasource(ctx, con: duckdb.DuckDBPyConnection):
    ds = ctx.data_sources.add_sql(name="clearcap", connection_string="duckdb://",
                                  kwargs={"creator": lambda: _AutocommitCursor(con.cursor())})
    ds.get_execution_engine().dialect_module = sqlalchemy.dialects.postgresql
    return ds


def build_suite(suite_name: str) -> "gx.ExpectationSuite":
    doc = load_suite_json(suite_name)
    expectations = doc.get("expectations", [])
    for i, exp in enumerate(expectations):
        meta = exp.get("meta") or {}
        if "rule" not in meta or meta.get("severity") not in ("row", "file", "error", "warning"):
            raise QualityError(f"{suite_name}: expectation {i} ({exp.get('type')}) lacks meta.rule/severity")
    suite = gx.ExpectationSuite(name=doc.get("name", suite_name), expectations=expectations, meta=doc.get("meta"))
    if len(suite.expectations) != len(expectations):  # GX logs and drops invalid configurations
        raise QualityError(f"{suite_name}: {len(expectations) - len(suite.expectations)} invalid expectation(s)")
    return suite


def _jsonable(value: Any) -> Any:
    def default(o: Any) -> Any:
        if isinstance(o, (_dt.date, _dt.datetime, _dt.time)):
            return o.isoformat()
        if isinstance(o, Decimal):
            return float(o)
        return str(o)

    return json.loads(json.dumps(value, default=default))


def _split_table(table: str) -> tuple[str | None, str]:
    parts = table.split(".")
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise QualityError(f"table must be 'name' or 'schema.name', got {table!r}")


def _columns(con: duckdb.DuckDBPyConnection, schema: str | None, name: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = coalesce(?, current_schema()) AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def _column_of(kwargs: dict) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ",".join(kwargs["column_list"])
    return None


def _duplicate_rows_sql(columns: Sequence[str], batch_from: str, id_column: str) -> str:
    """Rows whose key occurs more than once (GX semantics: a row with a NULL key part is not a
    duplicate). GX 1.24's unexpected_index_query for uniqueness expectations cross-joins the
    table with its group counts and leaves a bind parameter, so it is rebuilt here."""
    cols = ", ".join(quote_ident(c) for c in columns)
    not_null = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
    return (
        f"SELECT {quote_ident(id_column)} FROM (SELECT {quote_ident(id_column)}, count(*) OVER (PARTITION BY {cols}) AS _n "
        f"FROM {batch_from} WHERE {not_null}) AS _keys WHERE _n > 1"
    )


def _outcome(evr: Any, id_column: str | None, batch_query: str, batch_from: str) -> RuleOutcome:
    cfg = evr.expectation_config
    meta = cfg.meta or {}
    res = dict(evr.result or {})
    observed: dict[str, Any] = {}
    for key in ("element_count", "unexpected_count", "unexpected_percent", "missing_count",
                "observed_value", "details"):
        if key in res:
            observed[key] = res[key]
    if "partial_unexpected_list" in res:
        observed["partial_unexpected_list"] = res["partial_unexpected_list"][:PARTIAL_UNEXPECTED]
    if "partial_unexpected_index_list" in res:
        observed["partial_unexpected_index_list"] = res["partial_unexpected_index_list"][:PARTIAL_UNEXPECTED]
    query = res.get("unexpected_index_query")
    failing_ids_sql = None
    if isinstance(query, str) and query.strip():
        query = query.strip().rstrip(";").strip()
        # GX renders a query asset's batch as "FROM <query>" (no parentheses): fix it
        query = query.replace(f"FROM {batch_query}", f"FROM ({batch_query}) AS _batch", 1)
        observed["unexpected_rows_sql"] = query
        if not evr.success and id_column is not None:
            failing_ids_sql = f"SELECT {quote_ident(id_column)} FROM ({query}) AS _failing"
            if "column_A" in cfg.kwargs:
                # GX 1.24 folds ignore_row_if wrongly into the pair index query (rows with a
                # missing value come back as unexpected): filter them here
                a, b = quote_ident(cfg.kwargs["column_A"]), quote_ident(cfg.kwargs["column_B"])
                ignore = cfg.kwargs.get("ignore_row_if", "both_values_are_missing")
                if ignore == "either_value_is_missing":
                    failing_ids_sql += f" WHERE {a} IS NOT NULL AND {b} IS NOT NULL"
                elif ignore == "both_values_are_missing":
                    failing_ids_sql += f" WHERE NOT ({a} IS NULL AND {b} IS NULL)"
    if cfg.type in ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"):
        observed.pop("unexpected_rows_sql", None)
        if not evr.success and id_column is not None:
            key = cfg.kwargs.get("column_list") or [cfg.kwargs["column"]]
            failing_ids_sql = _duplicate_rows_sql(key, batch_from, id_column)
    if evr.exception_info and evr.exception_info.get("raised_exception"):
        observed["error"] = evr.exception_info.get("exception_message")
    elif isinstance(evr.exception_info, dict):
        errs = [v.get("exception_message") for v in evr.exception_info.values()
                if isinstance(v, dict) and v.get("raised_exception")]
        if errs:
            observed["error"] = "; ".join(str(e) for e in errs)
    return RuleOutcome(
        rule=meta["rule"],
        severity=meta["severity"],
        expectation_type=cfg.type,
        column=_column_of(cfg.kwargs),
        success=bool(evr.success),
        observed=_jsonable(observed),
        failing_ids_sql=failing_ids_sql,
        detail_columns=tuple(meta.get("detail_columns") or ()),
    )


def _check_failing_ids(con: duckdb.DuckDBPyConnection, o: RuleOutcome, suite: str, table: str) -> None:
    """Guard against GX regressions: the failing ids must number GX's unexpected_count (a wrong
    index query could otherwise quarantine every row, or none)."""
    if o.failing_ids_sql is None:
        return
    n = con.execute(f"SELECT count(*) FROM ({o.failing_ids_sql}) AS _c").fetchone()[0]
    expected = o.observed.get("unexpected_count")
    if expected is not None and n != expected:
        raise QualityError(
            f"{suite} on {table}: {o.expectation_type} ({o.rule}) failing_ids_sql returns {n} rows, "
            f"GX counted {expected} unexpected: {o.failing_ids_sql}"
        )


def validate_many(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[tuple],
    id_column: str | None = "_row_id",
    where: str | None = None,
    raise_on_error: bool = True,
) -> Report:
    """Run suites on tables of the open connection ``con``.

    ``checks``: ``(table, suite_name)`` or ``(table, suite_name, where)`` tuples. All metrics run
    as SQL in DuckDB through cursors of ``con`` (module docstring); nothing is copied to pandas.
    """
    ds = _datasource(_context(), con)
    runs: list[SuiteRun] = []
    try:
        for n, check in enumerate(checks):
            table, suite_name = check[0], check[1]
            cond = check[2] if len(check) > 2 else where
            schema, name = _split_table(table)
            cols = _columns(con, schema, name)
            if not cols:
                raise QualityError(f"table {table} not found")
            suite = build_suite(suite_name)
            qualified = ".".join(quote_ident(p) for p in (schema, name) if p)
            batch_query = f"SELECT * FROM {qualified}" + (f" WHERE {cond}" if cond else "")
            batch_from = f"({batch_query}) AS _batch"
            asset = ds.add_query_asset(f"{n}_{table}", query=batch_query)
            batch = asset.add_batch_definition_whole_table("all").get_batch()
            use_id = id_column if id_column and id_column in cols else None
            result_format: dict[str, Any] = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": PARTIAL_UNEXPECTED,
                "return_unexpected_index_query": True,
            }
            if use_id:
                result_format["unexpected_index_column_names"] = [use_id]
            result = batch.validate(suite, result_format=result_format)
            result.meta["clearcap_table"] = table
            result.meta["clearcap_where"] = cond
            outcomes = [_outcome(evr, use_id, batch_query, batch_from) for evr in result.results]
            for o in outcomes:
                _check_failing_ids(con, o, suite_name, table)
            if raise_on_error:
                broken = [o for o in outcomes if "error" in o.observed]
                if broken:
                    raise QualityError(
                        f"{suite_name} on {table}: expectation(s) could not run: "
                        + "; ".join(f"{o.rule}/{o.expectation_type}: {o.observed['error']}" for o in broken)
                    )
            runs.append(SuiteRun(table=table, suite_name=suite_name, outcomes=outcomes, result=result))
    finally:
        ds.get_execution_engine().engine.dispose()  # closes the cursors, never con
    return Report(runs=runs)


def _results_of(report_or_results: Any) -> list:
    if isinstance(report_or_results, Report):
        return [r.result for r in report_or_results.runs]
    if isinstance(report_or_results, SuiteRun):
        return [report_or_results.result]
    if isinstance(report_or_results, Iterable) and not isinstance(report_or_results, (str, bytes)):
        out = []
        for item in report_or_results:
            out.extend(_results_of(item) if isinstance(item, (Report, SuiteRun)) else [item])
        return out
    return [report_or_results]


_EXTERNAL = re.compile(
    r"""<(script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']*)["'][^>]*>(?:\s*</script>)?""",
    re.IGNORECASE,
)

# GX's templates load Bootstrap 4.3.1, jQuery, bootstrap-table, font-awesome and vega from CDNs;
# the GX package ships none of them. Offline: Bootstrap CSS/JS and jQuery are vendored from the
# flower package (a dependency of the Celery provider) when present; every other CDN tag is
# removed (tables stay static, no icons or vega charts; the content is server-rendered HTML).
_VENDOR = {
    "bootstrap.min.css": ("css/bootstrap.min.css", "link", ("bootstrap.min.css",)),
    "jquery.min.js": ("js/jquery-3.6.4.min.js", "script", ("jquery",)),
    "bootstrap.bundle.min.js": ("js/bootstrap.bundle.min.js", "script", ("bootstrap.min.js",)),
}


def _vendor_assets(static_dir: Path) -> dict[str, Path]:
    try:
        import importlib.util

        spec = importlib.util.find_spec("flower")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return {}
    static = Path(list(spec.submodule_search_locations)[0]) / "static"
    vendor = static_dir / "vendor"
    copied: dict[str, Path] = {}
    for name, (rel, _, _) in _VENDOR.items():
        src = static / rel
        if src.exists():
            vendor.mkdir(parents=True, exist_ok=True)
            if not _same_size(src, vendor / name):  # a shared copy is written once
                (vendor / name).write_bytes(src.read_bytes())
            copied[name] = vendor / name
    return copied


def _same_size(a: Path, b: Path) -> bool:
    return b.is_file() and a.stat().st_size == b.stat().st_size


def _share_static(own: Path, shared: Path) -> None:
    """Move the static assets GX copied into one site to the shared folder (files it lacks or
    holds in another size, as after a GX upgrade), then drop the site's copy."""
    for src in sorted(p for p in own.rglob("*") if p.is_file()):
        dst = shared / src.relative_to(own)
        if not _same_size(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    shutil.rmtree(own)


def strip_external_assets(html: str, page_dir: Path | None = None, vendored: dict[str, Path] | None = None) -> str:
    """Replace CDN <script>/<link> tags by vendored local files, or remove them."""
    vendored = vendored or {}
    used: set[str] = set()

    def repl(m: re.Match) -> str:
        tag, url = m.group(1).lower(), m.group(2)
        for name, (_, kind, needles) in _VENDOR.items():
            if kind == tag and name in vendored and name not in used and any(n in url for n in needles):
                used.add(name)
                rel = os.path.relpath(vendored[name], page_dir) if page_dir else str(vendored[name])
                rel = rel.replace(os.sep, "/")
                if tag == "link":
                    return f'<link rel="stylesheet" href="{rel}">'
                return f'<script src="{rel}"></script>'
        return ""

    return _EXTERNAL.sub(repl, html)


# Stand-ins for the font-awesome status icons and Bootstrap 4 badges the CDN would have given.
_OFFLINE_CSS = """<style>
.fas.fa-check-circle::before{content:"\\2714";font-style:normal}
.fas.fa-times::before,.fas.fa-times-circle::before{content:"\\2716";font-style:normal}
.fas.fa-exclamation-triangle::before{content:"\\26A0";font-style:normal}
.text-success{color:#198754}.text-danger{color:#dc3545}.text-warning{color:#b58100}
.badge{display:inline-block;padding:.1em .4em;border-radius:.25rem;font-size:85%}
.badge-secondary{background:#6c757d;color:#fff}.badge-warning{background:#ffc107;color:#212529}
.badge-info{background:#17a2b8;color:#fff}.badge-primary{background:#0d6efd;color:#fff}
</style>"""


# A relative link into the site's static folder ("../../static/images/favicon.ico"; GX gets the
# depth of the favicon's wrong on validation pages), and GX's logo on its web-assets CDN.
_STATIC_LINK = re.compile(r"""\b(src|href)=(["'])((?:\./|\.\./)*)static/([^"'?#]+)\2""")
_GX_CDN = re.compile(
    r"""(url\(\s*)?(["'])https://great-expectations-web-assets\.[^"']*?/([\w.-]+?)(?:\?[^"']*)?\2(\s*\))?""")


def point_to_static(html: str, page_dir: Path, static_dir: Path) -> str:
    """Links to static assets relative to ``page_dir`` into ``static_dir``; GX's CDN logo from
    the local copy of its images (a CSS background the package does not ship is dropped)."""
    def rel(path: Path) -> str:
        return os.path.relpath(path, page_dir).replace(os.sep, "/")

    def link(m: re.Match) -> str:
        return f"{m.group(1)}={m.group(2)}{rel(static_dir / m.group(4))}{m.group(2)}"

    def logo(m: re.Match) -> str:
        css_open, quote, name, css_close = m.groups()
        local = static_dir / "images" / name
        if local.is_file():
            return f"{css_open or ''}{quote}{rel(local)}{quote}{css_close or ''}"
        return "none" if css_open and css_close else f"{quote}{quote}"

    return _GX_CDN.sub(logo, _STATIC_LINK.sub(link, html))


def build_data_docs(report_or_results: Any, out_dir: Path, run_name: str | None = None,
                    static_dir: Path | None = None) -> Path:
    """Write GX Data Docs (HTML, offline) for the results into ``out_dir``; returns index.html.

    ``static_dir``: where the pages find GX's static assets (fonts, images, styles, vendored
    Bootstrap and jQuery), by relative links. Default ``out_dir/static`` (GX's own layout);
    sites that share a folder keep one copy of the assets between them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    static_dir = Path(static_dir) if static_dir is not None else out_dir / "static"
    ctx = _context(out_dir)
    run_id = RunIdentifier(run_name=run_name or "clearcap",
                           run_time=_dt.datetime.now(tz=_dt.timezone.utc))
    store = ctx.validation_results_store
    for result in _results_of(report_or_results):
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=run_id,
            batch_identifier=getattr(result, "batch_id", None) or uuid.uuid4().hex,
        )
        store.set(key, result)
    ctx.build_data_docs(site_names=["clearcap"])  # GX copies its static assets into every site
    if static_dir.resolve() != (out_dir / "static").resolve():
        _share_static(out_dir / "static", static_dir)
    vendored = _vendor_assets(static_dir)
    for page in out_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        cleaned = point_to_static(strip_external_assets(text, page.parent, vendored), page.parent,
                                  static_dir).replace("</head>", _OFFLINE_CSS + "</head>", 1)
        if cleaned != text:
            page.write_text(cleaned, encoding="utf-8")
    index = out_dir / "index.html"
    if not index.exists():
        raise QualityError(f"Data Docs not written to {out_dir}")
    return index
