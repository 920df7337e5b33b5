"""Apply a validated batch to the core tables, in one transaction."""
from __future__ import annotations

from datetime import date

import duckdb

from transforms.db import run_sql

CORE_MODELS = [
    "core/batch_quarantine.sql",
    "core/offices.sql",
    "core/exchange_office_rows.sql",
    "core/centre_rows.sql",
    "core/rejected_reports.sql",
    "core/events.sql",
    "core/clearance.sql",
    "core/office_stay.sql",
    "core/dispatch.sql",
    "core/clearance_daily.sql",
    "core/event_order.sql",
    "core/ledger_update.sql",
]


def build_core(con: duckdb.DuckDBPyConnection, run_date: date) -> dict:
    con.execute("BEGIN")
    try:
        reference_changed = con.execute(
            "SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted").fetchone()[0]
        for i, model in enumerate(CORE_MODELS):
            if model == "core/clearance_daily.sql" and reference_changed:
                # Capacities and validity periods apply to every day: recompute them all.
                con.execute("""
                    INSERT OR IGNORE INTO core.pending_dates
                    SELECT CAST(d AS DATE) FROM range(
                        (SELECT least(min(report_date), getvariable('run_date'))
                         FROM (SELECT report_date FROM core.exchange_office_rows
                               UNION ALL SELECT report_date FROM core.centre_rows)),
                        getvariable('run_date') + 1, INTERVAL 1 DAY) t(d)""")
            run_sql(con, model, run_date=run_date)
        stats = dict(zip(
            ["files", "loaded", "quarantined", "rows_loaded", "rows_quarantined", "rows_duplicate"],
            con.execute("""
                SELECT count(*), count(*) FILTER (WHERE NOT (file_quarantined OR all_rows_quarantined)),
                       count(*) FILTER (WHERE file_quarantined OR all_rows_quarantined),
                       sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate)
                FROM temp.file_counts""").fetchone()))
        stats["items_touched"] = con.execute("SELECT count(*) FROM temp.touched_items").fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {k: (int(v) if v is not None else 0) for k, v in stats.items()}
