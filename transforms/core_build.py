"""Apply a validated batch to the core tables: one DuckDB transaction, then the history.

The new events reach the history (transforms/history.py) after the DuckDB commit, from the
rows the state holds for their batch (core.open_events, core.history_pending): a run killed
between the two commits is finished by the next build before it reads the history, so the
history never misses a committed night and never holds a night the state does not know.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb

from transforms import history as H
from transforms.config import ITEM_WINDOW_DAYS, Paths
from transforms.db import run_sql, table_exists

CORE_MODELS = [
    "core/batch_quarantine.sql",
    "core/offices.sql",
    "core/exchange_office_rows.sql",
    "core/centre_rows.sql",
    "core/rejected_reports.sql",
    "core/events.sql",
    "core/ev_new.sql",
    "core/open_events.sql",
    "core/clearance.sql",
    "core/office_stay.sql",
    "core/dispatch.sql",
    "core/clearance_daily.sql",
    "core/event_order.sql",
    "core/ledger_update.sql",
    "core/close_items.sql",
]

_KEY = "item_id, event_code, event_utc, office_code"


def _history_rows(con: duckdb.DuckDBPyConnection, name: str, files: list[str], select: str,
                  items: str) -> None:
    """temp.<name> = `select` over the history files `files`, for the items of temp.<items>
    (read_parquet needs at least one file: no file, no row)."""
    source = "read_parquet(?)" if files else f"(SELECT {', '.join(H.EVENT_COLUMNS)} FROM history_empty)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM {source} h "
                f"SEMI JOIN temp.{items} b ON h.item_id = b.item_id", [files] if files else [])


def _known(con: duckdb.DuckDBPyConnection, history: H.History) -> None:
    """The history's events of the batch's event days and items, for deduplication."""
    days = [d for (d,) in con.execute(
        "SELECT DISTINCT event_utc::DATE FROM temp.ev_clean WHERE event_utc IS NOT NULL").fetchall()]
    _history_rows(con, "history_known", H.event_files(history, days) if days else [], _KEY, "batch_items")


def _reopened(con: duckdb.DuckDBPyConnection, history: H.History) -> None:
    """Every history event of the closed items the night touched (reopen_candidates): their
    days from history.item_days, then only those days' files."""
    index = H.item_day_files(history)
    con.execute("CREATE OR REPLACE TEMP TABLE reopen_days (item_id VARCHAR, first_day DATE, last_day DATE)")
    if index:
        con.execute("INSERT INTO temp.reopen_days SELECT item_id, first_day, last_day FROM read_parquet(?) h "
                    "SEMI JOIN temp.reopen_candidates c ON h.item_id = c.item_id", [index])
    days = [d for (d,) in con.execute(
        "SELECT DISTINCT unnest(range(first_day, last_day + 1, INTERVAL 1 DAY))::DATE FROM temp.reopen_days").fetchall()]
    _history_rows(con, "history_reopened", H.event_files(history, days) if days else [],
                  f"{', '.join(H.EVENT_COLUMNS)}, event_utc + to_minutes(local_offset_min) AS event_local",
                  "reopen_days")


def flush_pending(con: duckdb.DuckDBPyConnection, history: H.History) -> H.History:
    """Append to the history the new events of every night committed to the state but not yet
    to the history (normally the night just built; after a kill, an earlier one). Files a
    killed append wrote without committing are removed first."""
    pending = [b for (b,) in con.execute("SELECT batch FROM core.history_pending ORDER BY batch").fetchall()]
    if pending:
        H.remove_orphans(history, datetime.now(timezone.utc))
    for batch in pending:
        con.execute("CREATE OR REPLACE TEMP TABLE history_batch AS SELECT *, "
                    "datediff('minute', event_utc, event_local)::INTEGER AS local_offset_min "
                    "FROM core.open_events WHERE batch = ?", [batch])
        history = H.add_events(history, con, str(batch))
        con.execute("DELETE FROM core.history_pending WHERE batch = ?", [batch])
        con.execute("DROP TABLE temp.history_batch")
    return history


def build_core(con: duckdb.DuckDBPyConnection, run_date: date, paths: Paths) -> dict:
    if table_exists(con, "core", "events"):
        raise RuntimeError(f"{paths.state_db} holds core.events, the event history of a state from "
                           "before the history layer (docs/decisions/0004): there is no migration; delete "
                           f"{paths.state_dir} and run the nights again from the landing zone")
    history = flush_pending(con, H.open_history(paths))
    con.execute("BEGIN")
    try:
        batch = con.execute("SELECT epoch_us(now())").fetchone()[0]
        # the history's columns, typed, for a read of no file
        con.execute(f"CREATE OR REPLACE TEMP TABLE history_empty AS SELECT {', '.join(H.EVENT_COLUMNS)} "
                    "FROM core.open_events, (SELECT 0 AS local_offset_min) LIMIT 0")
        reference_changed = con.execute(
            "SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted").fetchone()[0]
        for model in CORE_MODELS:
            if model == "core/clearance_daily.sql" and reference_changed:
                # Capacities and validity periods apply to every day: recompute them all.
                con.execute("""
                    INSERT OR IGNORE INTO core.pending_dates
                    SELECT CAST(d AS DATE) FROM range(
                        (SELECT least(min(report_date), getvariable('run_date'))
                         FROM (SELECT report_date FROM core.exchange_office_rows
                               UNION ALL SELECT report_date FROM core.centre_rows)),
                        getvariable('run_date') + 1, INTERVAL 1 DAY) t(d)""")
            elif model == "core/ev_new.sql":
                _known(con, history)
            elif model == "core/open_events.sql":
                _reopened(con, history)
            run_sql(con, model, run_date=run_date, batch=batch, item_window_days=ITEM_WINDOW_DAYS)
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
    flush_pending(con, history)
    return {k: (int(v) if v is not None else 0) for k, v in stats.items()}
