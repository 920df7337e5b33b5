"""Run the Great Expectations suites on the staged batch and on the marts, and route failures.

The rules themselves live in expectations/*.json; this module only decides where a failing row
goes, according to the severity the suite declares (row -> row quarantine, file -> whole file
quarantine, error -> publish blocked, warning -> recorded).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date

import duckdb

from transforms import dbt_runner
from transforms.config import datadocs_nights
from transforms.db import connect_state, quote_ident, quote_literal, run_sql, table_exists

BATCH_SUITES = [  # (staging table, suite, feed)
    ("staging.exchange_office", "staging_exchange_office", "exchange_office"),
    ("staging.customs_centre", "staging_customs_centre", "customs_centre"),
    ("staging.item_events", "staging_item_events", "item_events"),
    ("staging.report_totals", "staging_report_totals", "report_totals"),
]


class PublishBlocked(RuntimeError):
    """An error-severity rule failed on a mart: the previous warehouse stays published."""


def _stable(observed: dict) -> dict:
    """GX samples the first 20 unexpected values it meets, which varies with thread timing:
    keep the sample only when it is the whole set, sorted, so reruns record the same thing."""
    out = dict(observed)
    sample = out.pop("partial_unexpected_list", None)
    if sample is not None and len(sample) >= (out.get("unexpected_count") or 0):
        out["unexpected_values"] = sorted(sample, key=repr)
    return out


def _insert_result(con, run_date: date, suite: str, feed: str, day: date, o, success: bool,
                   observed: dict) -> None:
    con.execute(
        "INSERT INTO core.quality_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_date, suite, feed, day, o.rule, o.expectation_type, o.column, o.severity, success,
         json.dumps(observed, ensure_ascii=False, default=str), observed.get("unexpected_count")])


def _record(con, run_date: date, suite: str, feed: str, outcomes, table: str | None = None) -> None:
    """Record each outcome under the data day it checked. Batch rows belong to their file's
    date folder (an events file's results go to its folder's day, whatever days its events
    fall on; the reference, which has no folder, to the run's day); a batch spanning several
    days gives one result per day, with that day's counts. A result with no failing rows to
    split (a check of the batch as a whole) is filed under every day of the batch; mart checks
    cover the published tables as of the night, under the run's day."""
    days = []
    if table is not None:
        days = con.execute(
            f"SELECT coalesce(bf.folder_date, ?::DATE) AS d, count(*) FROM {table} s "
            "LEFT JOIN staging.batch_files bf USING (_file_id) GROUP BY ALL ORDER BY 1",
            [run_date]).fetchall()
    for o in outcomes:
        observed = _stable(o.observed)
        if len(days) <= 1:  # one data day (or none): the batch result is that day's
            _insert_result(con, run_date, suite, feed, days[0][0] if days else run_date, o,
                           o.success, observed)
            continue
        failed: dict = {}
        if o.failing_ids_sql and not o.success:
            failed = {d: set(ids) for d, ids in con.execute(
                f"SELECT coalesce(bf.folder_date, ?::DATE), list(s._row_id) FROM {table} s "
                "LEFT JOIN staging.batch_files bf USING (_file_id) "
                f"WHERE s._row_id IN (SELECT * FROM ({o.failing_ids_sql}) AS f) GROUP BY ALL",
                [run_date]).fetchall()}
        for d, n in days:
            if not o.failing_ids_sql:
                _insert_result(con, run_date, suite, feed, d, o, o.success, observed)
                continue
            ids = failed.get(d, set())
            # this day's counts and failing sample; the batch's value list cannot be split
            mine = {k: v for k, v in observed.items() if k != "unexpected_values"}
            mine.update(element_count=n, unexpected_count=len(ids),
                        unexpected_percent=100.0 * len(ids) / n if n else 0.0)
            if "partial_unexpected_index_list" in mine:
                mine["partial_unexpected_index_list"] = [
                    e for e in mine["partial_unexpected_index_list"]
                    if isinstance(e, dict) and e.get("_row_id") in ids]
            _insert_result(con, run_date, suite, feed, d, o, not ids, mine)


FILE_DETAIL_ROWS = 5  # failing rows named in a file-level detail; the count says how many more


def _route(con, table: str, outcomes) -> None:
    for o in outcomes:
        if o.success or not o.failing_ids_sql or o.severity not in ("row", "file"):
            continue
        # "col = value, col = value" from the failing row itself (meta.detail_columns, else the rule's)
        cols = list(o.detail_columns) or [c.strip() for c in (o.column or "").split(",") if c.strip()]
        shown = " || ', ' || ".join(
            f"{quote_literal(c + ' = ')} || coalesce(CAST(s.{quote_ident(c)} AS VARCHAR), 'NULL')"
            for c in cols) or "''"
        failing = f"SELECT * FROM ({o.failing_ids_sql}) AS f"
        if o.severity == "row":
            raw = "s._raw" if table != "staging.item_events" else "NULL"  # filled by _raw_from_parquet
            con.execute(f"""
                INSERT INTO staging.rule_failures
                SELECT s._file_id, s._line, {raw}, ?, {quote_literal(o.expectation_type + ': ')} || {shown}
                FROM {table} s WHERE s._row_id IN ({failing})""", [o.rule])
        else:
            # A file-level detail starts with its rule (as the readers' file errors do) and names
            # the failing lines: "total_mismatch: line 12: column_name = items_received, ..."
            con.execute(f"""
                INSERT INTO staging.file_failures
                SELECT s._file_id, ?, ? || ': ' || array_to_string(list_slice(
                           list('line ' || coalesce(CAST(s._line AS VARCHAR), '?') || ': ' || {shown}
                                ORDER BY s._line), 1, ?), '; ')
                       || CASE WHEN count(*) > ? THEN format('; and {{}} more', count(*) - ?) ELSE '' END
                FROM {table} s WHERE s._row_id IN ({failing}) GROUP BY s._file_id""",
                [o.rule, o.rule, FILE_DETAIL_ROWS, FILE_DETAIL_ROWS, FILE_DETAIL_ROWS])


def _datadocs(paths, run_date: date, step: str, report) -> str | None:
    """GX Data Docs of one step, beside the warehouse: the nights' pages share one copy of GX's
    static assets, the newest CLEARCAP_DATADOCS_NIGHTS nights are kept, and an index lists them."""
    from transforms import quality
    from transforms.datadocs_index import prune_nights, write_index

    root = paths.datadocs_dir
    index = quality.build_data_docs(report, root / run_date.isoformat() / step,
                                    run_name=f"{run_date} {step}", static_dir=root / "static")
    prune_nights(root, datadocs_nights(), current=run_date)
    write_index(root)
    return str(index)


def _raw_from_parquet(con) -> None:
    """The raw line of each rejected event, read back from its file's ingest Parquet."""
    files = [r[0] for r in con.execute(
        """SELECT DISTINCT bf.rows_path FROM staging.rule_failures f
           JOIN staging.batch_files bf USING (_file_id) WHERE f._raw IS NULL""").fetchall()]
    if not files:
        return
    con.execute("""
        UPDATE staging.rule_failures f SET _raw = p._raw
        FROM (SELECT bf._file_id, r._line, r._raw
              FROM read_parquet(?, filename = true) r
              JOIN staging.batch_files bf ON r.filename = bf.rows_path
              SEMI JOIN (SELECT _file_id, _line FROM staging.rule_failures WHERE _raw IS NULL) x
                ON x._file_id = bf._file_id AND x._line = r._line) p
        WHERE f._raw IS NULL AND f._file_id = p._file_id AND f._line = p._line""", [files])


# The staging models (transforms/dbt/models/staging), in the gate's order: the reference first,
# since the rows it passes decide what "known office" means for the rest of the batch.
REFERENCE_MODELS = ["reference"]
STAGING_MODELS = ["staging"]

# The reference is one document: a row the reader rejected rejects the whole file (without
# those rows offices would silently vanish from what is expected). One entry per file, naming
# every rejected line (a reference has a few dozen rows); like every file-level detail it
# starts with its rule.
REFERENCE_REJECTS = """
    INSERT INTO staging.file_failures
    SELECT q._file_id, arg_min(q.rule, q._line),
           arg_min(q.rule, q._line) || ': ' || string_agg(format('line {}: {}', q._line,
                             CASE WHEN starts_with(q.detail, q.rule || ': ')
                                  THEN substr(q.detail, length(q.rule) + 3) ELSE q.detail END),
                      '; ' ORDER BY q._line)
    FROM staging.parse_quarantine q
    JOIN staging.batch_files bf USING (_file_id)
    WHERE bf.feed = 'reference'
    GROUP BY q._file_id"""


@contextmanager
def _state(paths):
    """The state between two dbt invocations (dbt opens the file itself: no connection of ours
    may be open while it runs)."""
    con = connect_state(paths)
    try:
        yield con
    finally:
        con.close()


def _build(paths, run_date: date, select: list[str], exclude: list[str] = ()) -> None:
    # --no-write-json: the manifest and run results are not read
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date,
                      ["run", "--select", *select, *(["--exclude", *exclude] if exclude else []),
                       "--no-write-json"])


def validate_batch(paths, run_date: date) -> dict:
    """The staging models of the staged batch, checked: the reference model, its suite and the
    reference's quarantine decisions first, then the other models and their suites. The caller
    holds writer.lock."""
    from transforms import quality

    with _state(paths) as con:
        con.execute("DELETE FROM staging.rule_failures; DELETE FROM staging.file_failures; "
                    "DELETE FROM staging.reference_accepted")
        if not con.execute("SELECT count(*) FROM staging.batch_files").fetchone()[0]:
            # Nothing new: keep the night's recorded results, so a rerun changes no published row.
            return {"expectations_failed": 0, "rows_failing": 0, "files_failing": 0, "skipped": True}
        con.execute("DELETE FROM core.quality_results WHERE run_date = ? AND suite NOT LIKE 'mart_%'",
                    [run_date])
        reference_files, reference_rows = con.execute(
            "SELECT (SELECT count(*) FROM staging.batch_files WHERE feed = 'reference'), "
            "(SELECT count(*) FROM staging.raw_reference)").fetchone()
    checks = []
    if reference_rows:
        _build(paths, run_date, REFERENCE_MODELS)
    if reference_files:
        with _state(paths) as con:
            if reference_rows:
                outcomes = quality.validate(con, "staging.reference", "staging_reference")
                _route(con, "staging.reference", outcomes)
                _record(con, run_date, "staging_reference", "reference", outcomes, "staging.reference")
                checks.append(("staging.reference", "staging_reference"))
            con.execute(REFERENCE_REJECTS)
            accepted = reference_rows > 0 and not con.execute(
                "SELECT count(*) FROM staging.file_failures").fetchone()[0]
            con.execute("INSERT INTO staging.reference_accepted VALUES (?)", [accepted])
    # the reference model again only when it was not built above: staging.reference is
    # tonight's delivered reference, none when the batch has none
    _build(paths, run_date, STAGING_MODELS, REFERENCE_MODELS if reference_rows else [])
    with _state(paths) as con:
        if not con.execute("SELECT count(*) FROM staging.offices_effective").fetchone()[0]:
            raise RuntimeError("no usable reference/offices.csv: deliver one that passes its rules "
                               "(see mart.quarantine) before the feeds can be checked")
        report = quality.validate_many(con, checks + [(t, s) for t, s, _ in BATCH_SUITES])
        feeds = {t: f for t, _, f in BATCH_SUITES}
        failed = 0
        for run in report.runs:
            if run.table == "staging.reference":
                continue  # routed above
            _route(con, run.table, run.outcomes)
            _record(con, run_date, run.suite_name, feeds[run.table], run.outcomes, run.table)
            failed += sum(not o.success for o in run.outcomes)
        _raw_from_parquet(con)
        rows = con.execute("SELECT count(*) FROM staging.rule_failures").fetchone()[0]
        files = con.execute("SELECT count(DISTINCT _file_id) FROM staging.file_failures").fetchone()[0]
    docs = _datadocs(paths, run_date, "batch", report)
    return {"expectations_failed": failed, "rows_failing": rows, "files_failing": files,
            "data_docs": docs}


MART_SUITES = [
    ("mart.office_daily", "mart_office_daily"),
    ("mart.customs_dwell_daily", "mart_customs_dwell_daily"),
    ("mart.office_stay_daily", "mart_office_stay_daily"),
    ("mart.centre_daily", "mart_centre_daily"),
    ("mart_checks.national_vs_offices", "mart_national_daily"),
    ("mart.reconciliation_daily", "mart_reconciliation_daily"),
    ("mart_checks.event_order", "mart_event_order"),
    ("mart_checks.centre_releases", "mart_centre_releases"),
]


def validate_marts(con: duckdb.DuckDBPyConnection, run_date: date, paths=None) -> dict:
    from transforms import quality

    status = con.execute("SELECT any_value(status) FROM core.mart_validation").fetchone()[0]
    if status == "passed":
        return {"warnings": [], "skipped": "the marts have not changed since they passed"}
    con.execute("DELETE FROM core.quality_results WHERE run_date = ? AND suite LIKE 'mart_%'",
                [run_date])
    checks = [(t, s) for t, s in MART_SUITES if table_exists(con, *t.split("."))]
    report = quality.validate_many(con, checks, id_column=None)
    errors, warnings = [], []
    for run in report.runs:
        _record(con, run_date, run.suite_name, run.table, run.outcomes)
        for o in run.outcomes:
            if not o.success:
                (errors if o.severity == "error" else warnings).append(
                    f"{run.suite_name}: {o.rule} ({o.column}) observed {o.observed.get('unexpected_count')}")
    docs = _datadocs(paths, run_date, "marts", report) if paths else None
    con.execute("DELETE FROM core.mart_validation; INSERT INTO core.mart_validation VALUES (?)",
                ["failed" if errors else "passed"])
    if errors:
        raise PublishBlocked("publish blocked by failed mart rules: " + "; ".join(errors)
                             + (f" (Data Docs: {docs})" if docs else ""))
    return {"warnings": warnings, "data_docs": docs}
