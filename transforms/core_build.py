"""Apply a validated batch to the core layer: the core models that need nothing of the
timelines (transforms/dbt/models/core: quarantine, reference, rejected reports), the rest in one
DuckDB transaction (still SQL scripts, transforms/sql/core), then the history, then the models
that read the new timelines (pending days, clearance_daily).

The new events reach the history (transforms/history.py) after the DuckDB commit, from the
rows the state holds for their batch (core.open_events, core.history_pending): a run killed
between the two commits is finished by the next build before it reads the history, so the
history never misses a committed night and never holds a night the state does not know.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb

from transforms import dbt_runner, history as H
from transforms.config import ITEM_WINDOW_DAYS, Paths
from transforms.db import connect_state, run_sql, table_exists

# dbt models before the transaction: each replaces the rows of the files the ledger has not
# accounted for yet, so a rerun of a run killed part way replaces what it left
MODELS_BEFORE = ["quarantined_files", "quarantined_rows", "exchange_office_clean", "centre_clean",
                 "core_offices", "core_quarantine", "rejected_reports"]
# after it: derived from the state, not from the batch, so the rerun of a run killed after
# the commit computes the same days
MODELS_AFTER = ["pending_days", "clearance_daily"]
SCRIPTS = [
    "core/exchange_office_rows.sql",
    "core/centre_rows.sql",
    "core/events.sql",
    "core/ev_new.sql",
    "core/open_events.sql",
    "core/clearance.sql",
    "core/office_stay.sql",
    "core/dispatch.sql",
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


def _models(paths: Paths, run_date: date, models: list[str]) -> None:
    # --no-write-json: the manifest and run results are not read
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date,
                      ["run", "--select", *models, "--no-write-json"])


def build_core(paths: Paths, run_date: date) -> dict:
    """The caller holds writer.lock and no connection to the state (dbt opens it itself)."""
    con = connect_state(paths)
    try:
        if table_exists(con, "core", "events"):
            raise RuntimeError(f"{paths.state_db} holds core.events, the event history of a state from "
                               "before the history layer (docs/decisions/0004): there is no migration; delete "
                               f"{paths.state_dir} and run the nights again from the landing zone")
        # a retry after the transaction committed (the batch's files are accounted for) only
        # finishes the build: applying the batch again would count its events as duplicates
        applied = con.execute(
            "SELECT count(*) > 0 AND count(*) FILTER (WHERE l.status = 'staged') = 0 "
            "FROM staging.batch_files bf JOIN core.ledger l ON l.file_id = bf._file_id").fetchone()[0]
    finally:
        con.close()
    stats = None
    if not applied:
        _models(paths, run_date, MODELS_BEFORE)
        con = connect_state(paths)
        try:
            stats = _apply(con, run_date, paths)
        finally:
            con.close()
    _models(paths, run_date, MODELS_AFTER)
    return stats or {"skipped": "the batch was applied by an earlier attempt"}


def _apply(con: duckdb.DuckDBPyConnection, run_date: date, paths: Paths) -> dict:
    history = flush_pending(con, H.open_history(paths))
    con.execute("BEGIN")
    try:
        batch = con.execute("SELECT epoch_us(now())").fetchone()[0]
        # the history's columns, typed, for a read of no file
        con.execute(f"CREATE OR REPLACE TEMP TABLE history_empty AS SELECT {', '.join(H.EVENT_COLUMNS)} "
                    "FROM core.open_events, (SELECT 0 AS local_offset_min) LIMIT 0")
        for script in SCRIPTS:
            if script == "core/ev_new.sql":
                _known(con, history)
            elif script == "core/open_events.sql":
                _reopened(con, history)
            run_sql(con, script, run_date=run_date, batch=batch, item_window_days=ITEM_WINDOW_DAYS)
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
