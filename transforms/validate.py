"""Run the Great Expectations suites on the staged batch and on the marts, and route failures.

The rules themselves live in expectations/*.json; this module only decides where a failing row
goes, according to the severity the suite declares (row -> row quarantine, file -> whole file
quarantine, error -> publish blocked, warning -> recorded).
"""
from __future__ import annotations

import json
from datetime import date

import duckdb

from transforms.config import EVENT_LOOKBACK_DAYS
from transforms.db import SQL_DIR, run_sql, table_exists
from transforms.marts import refresh_table

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


def _record(con, run_date: date, suite: str, feed: str, outcomes) -> None:
    for o in outcomes:
        observed = _stable(o.observed)
        con.execute(
            "INSERT INTO core.quality_results VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            [run_date, suite, feed, o.rule, o.expectation_type, o.column, o.severity, o.success,
             json.dumps(observed, ensure_ascii=False, default=str),
             observed.get("unexpected_count")])


def _route(con, table: str, outcomes) -> None:
    for o in outcomes:
        if o.success or not o.failing_ids_sql or o.severity not in ("row", "file"):
            continue
        # detail: "<expectation>: col = value, col = value" from the failing row itself
        cols = [c.strip() for c in (o.column or "").split(",") if c.strip()]
        shown = " || ', ' || ".join(
            f"'{c} = ' || coalesce(CAST(s.\"{c}\" AS VARCHAR), 'NULL')" for c in cols) or "''"
        detail = f"'{o.expectation_type}: ' || {shown}"
        failing = f"SELECT * FROM ({o.failing_ids_sql}) AS f"
        if o.severity == "row":
            raw = "s._raw" if table != "staging.item_events" else "NULL"  # filled by _raw_from_parquet
            con.execute(f"""
                INSERT INTO staging.rule_failures
                SELECT s._file_id, s._line, {raw}, ?, {detail}
                FROM {table} s WHERE s._row_id IN ({failing})""", [o.rule])
        else:
            # the file's entry names the first failing line (its rows are not listed one by one)
            con.execute(f"""
                INSERT INTO staging.file_failures
                SELECT s._file_id, ?, 'line ' || min(s._line) || ': ' || arg_min({detail}, s._line)
                    || CASE WHEN count(*) > 1 THEN format(' (and {{}} more rows)', count(*) - 1)
                            ELSE '' END
                FROM {table} s WHERE s._row_id IN ({failing}) GROUP BY s._file_id""", [o.rule])


def _datadocs(paths, run_date: date, step: str, report) -> str | None:
    """GX Data Docs of one step, beside the warehouse, with an index of every night."""
    from transforms import quality
    from transforms.datadocs_index import write_index

    out = paths.datadocs_dir / run_date.isoformat() / step
    index = quality.build_data_docs(report, out, run_name=f"{run_date} {step}")
    write_index(paths.datadocs_dir)
    return str(index)


def _raw_from_parquet(con) -> None:
    """The raw line of each rejected event, read back from its file's ingest Parquet."""
    files = [r[0] for r in con.execute(
        """SELECT DISTINCT bf.rows_path FROM staging.rule_failures f
           JOIN staging.batch_files bf USING (_file_id) WHERE f._raw IS NULL""").fetchall()]
    if not files:
        return
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(f"""
        UPDATE staging.rule_failures f SET _raw = p._raw
        FROM (SELECT bf._file_id, r._line, r._raw
              FROM read_parquet({listing}, filename = true) r
              JOIN staging.batch_files bf ON r.filename = bf.rows_path
              SEMI JOIN (SELECT _file_id, _line FROM staging.rule_failures WHERE _raw IS NULL) x
                ON x._file_id = bf._file_id AND x._line = r._line) p
        WHERE f._raw IS NULL AND f._file_id = p._file_id AND f._line = p._line""")


def validate_batch(con: duckdb.DuckDBPyConnection, run_date: date, paths=None) -> dict:
    from transforms import quality

    con.execute("DELETE FROM staging.rule_failures; DELETE FROM staging.file_failures; "
                "DELETE FROM staging.reference_accepted")
    if not con.execute("SELECT count(*) FROM staging.batch_files").fetchone()[0]:
        # Nothing new: keep the night's recorded results, so a rerun changes no published row.
        return {"expectations_failed": 0, "rows_failing": 0, "files_failing": 0, "skipped": True}
    con.execute("DELETE FROM core.quality_results WHERE run_date = ? AND suite NOT LIKE 'mart_%'",
                [run_date])
    for table, seed in (("country_tz", "country_tz.csv"), ("city_tz", "impc_city_tz.csv")):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM "
                    f"read_csv('{SQL_DIR / 'seeds' / seed}', header = true, all_varchar = true)")
    checks = []
    if con.execute("SELECT count(*) FROM staging.batch_files WHERE feed = 'reference'").fetchone()[0]:
        # The reference decides what "known office" means for the rest: check it first.
        has_rows = con.execute("SELECT count(*) FROM staging.raw_reference").fetchone()[0] > 0
        if has_rows:
            run_sql(con, "staging/reference.sql")
            outcomes = quality.validate(con, "staging.reference", "staging_reference")
            _route(con, "staging.reference", outcomes)
            _record(con, run_date, "staging_reference", "reference", outcomes)
            checks.append(("staging.reference", "staging_reference"))
        # The reference is one document: a row the reader rejected rejects the whole file.
        run_sql(con, "staging/reference_rejects.sql")
        accepted = has_rows and not con.execute(
            "SELECT count(*) FROM staging.file_failures").fetchone()[0]
        con.execute("INSERT INTO staging.reference_accepted VALUES (?)", [accepted])
    run_sql(con, "staging/offices_effective.sql")
    if not con.execute("SELECT count(*) FROM temp.offices").fetchone()[0]:
        raise RuntimeError("no usable reference/offices.csv: deliver one that passes its rules "
                           "(see mart.quarantine) before the feeds can be checked")
    for model in ("exchange_office", "customs_centre", "item_events"):
        run_sql(con, f"staging/{model}.sql", event_lookback_days=EVENT_LOOKBACK_DAYS)
    report = quality.validate_many(con, checks + [(t, s) for t, s, _ in BATCH_SUITES])
    feeds = {t: f for t, _, f in BATCH_SUITES}
    failed = 0
    for run in report.runs:
        if run.table == "staging.reference":
            continue  # routed above
        _route(con, run.table, run.outcomes)
        _record(con, run_date, run.suite_name, feeds[run.table], run.outcomes)
        failed += sum(not o.success for o in run.outcomes)
    _raw_from_parquet(con)
    rows = con.execute("SELECT count(*) FROM staging.rule_failures").fetchone()[0]
    files = con.execute("SELECT count(DISTINCT _file_id) FROM staging.file_failures").fetchone()[0]
    docs = _datadocs(paths, run_date, "batch", report) if paths else None
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
    run_sql(con, "mart/checks.sql")
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
    # The published quality table shows tonight's mart results too.
    refresh_table(con, "quality_daily", run_date)
    docs = _datadocs(paths, run_date, "marts", report) if paths else None
    con.execute("DELETE FROM core.mart_validation; INSERT INTO core.mart_validation VALUES (?)",
                ["failed" if errors else "passed"])
    if errors:
        raise PublishBlocked("publish blocked by failed mart rules: " + "; ".join(errors)
                             + (f" (Data Docs: {docs})" if docs else ""))
    return {"warnings": warnings, "data_docs": docs}
