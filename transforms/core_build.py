"""Apply a validated batch to the core layer: the core models of the dbt project
(transforms/dbt/models/core) in two invocations, with the history reads between and around
them, then the night's new events into the history.

1. The report tables, the quarantine and tonight's new events (`ev_new`: deduplicated against
   the history files of the batch's event days only, bound as `known_files`), and the days of
   the touched items that have no event in the state (`reopen_days`: new, or closed).
2. A closed item's events read back from those days' history files (`reopened_files`), the open
   events, the per-item timelines, and `file_outcomes`, whose hooks account for the batch in
   core.ledger and queue its events for the history in one transaction; then the days the
   marts recompute and the dates of the closed items' rows they read (`history_reads`).

Every model commits alone and is idempotent for the batch (`staging.batch_meta.batch`): an
attempt killed part way is finished by a retry of the same batch, or by the next plan
(`finish_interrupted`), never by loading its files again. The new events reach the history
(transforms/history.py) after the ledger commit, from the rows the state holds for their batch
(core.open_events, core.history_pending): a run killed between the two commits is finished by
the next build before it reads the history, so the history never misses a committed night and
never holds a night the state does not know. Then the per-item rows of the items that left the
open events move to the history's tables of closed items (`flush_pending`), the same way: marked
in core.closing, appended, deleted from the state.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms import dbt_runner, history as H
from transforms.config import ITEM_REOPEN_DAYS, ITEM_WINDOW_DAYS, Paths
from transforms.db import connect_state, table_exists

# before the history's closed items are read back
MODELS_FIRST = ["quarantined_files", "quarantined_rows", "exchange_office_clean", "centre_clean",
                "core_offices", "core_quarantine", "rejected_reports", "exchange_office_deliveries",
                "centre_deliveries", "exchange_office_rows", "centre_rows", "ev_clean", "ev_new",
                "touched_items", "reopen_days"]
# after: the open events, the timelines, the ledger (file_outcomes' hooks), then the days to
# recompute, derived from the state (a retry after the ledger commit runs only these two)
MODELS_THEN = ["open_events", "reopened_items", "touched_events", "clearance", "office_stay", "dispatch",
               "touched_event_order", "file_outcomes"]
MODELS_LAST = ["pending_days", "refresh_days", "history_reads"]


def empty_file(paths: Paths, schema: pa.Schema, partition: str) -> str:
    """A Parquet file of `schema` with no row, in a folder named like the history's partitions
    (DuckDB reads `key=value` folders as a column): always in a bound file list, so a night
    whose list is otherwise empty reads typed nothing."""
    out = paths.state_dir / "dbt" / "history_empty" / partition / "empty.parquet"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.empty_table(), out)
    return str(out)


def flush_pending(con: duckdb.DuckDBPyConnection, history: H.History, closing_batch: int | None = None) -> H.History:
    """Append to the history the new events of every night committed to the state but not yet
    to the history (normally the night just built; after a kill, an earlier one), and move the
    per-item rows of closed items: those already marked in core.closing and, with
    `closing_batch` (the end of a build), the items that left the open events tonight. At the
    start of a build (no `closing_batch`) whatever is pending is a killed run's, whose appends
    may have left files no snapshot lists: they are removed first (listing every manifest of
    the history: only then, not every night)."""
    if closing_batch is not None:
        mark_closing(con, closing_batch)
    pending = [b for (b,) in con.execute("SELECT batch FROM core.history_pending ORDER BY batch").fetchall()]
    closing = [b for (b,) in con.execute("SELECT DISTINCT batch FROM core.closing ORDER BY batch").fetchall()]
    if (pending or closing) and closing_batch is None:
        H.remove_orphans(history, datetime.now(timezone.utc))
    for batch in pending:
        con.execute("CREATE OR REPLACE TEMP TABLE history_batch AS SELECT *, "
                    "datediff('minute', event_utc, event_local)::INTEGER AS local_offset_min "
                    "FROM core.open_events WHERE batch = ?", [batch])
        history = H.add_events(history, con, str(batch))
        con.execute("DELETE FROM core.history_pending WHERE batch = ?", [batch])
        con.execute("DROP TABLE temp.history_batch")
    for batch in closing:
        for table in H.CLOSED_TABLES:
            history = H.add_closed(history, con, table,
                                   f"SELECT t.*, c.batch AS {H.CLOSED_BATCH} FROM core.{table} t "
                                   "JOIN core.closing c USING (item_id) WHERE c.batch = ?", str(batch), [batch])
        con.execute("BEGIN")
        for table in H.CLOSED_TABLES:
            con.execute(f"DELETE FROM core.{table} WHERE item_id IN "
                        "(SELECT item_id FROM core.closing WHERE batch = ?)", [batch])
        con.execute("DELETE FROM core.closing WHERE batch = ?", [batch])
        con.execute("COMMIT")
    return history


def mark_closing(con: duckdb.DuckDBPyConnection, batch: int) -> int:
    """Mark the items with per-item rows in the state and no event left in core.open_events
    (the open events' refresh closed them tonight) to move, with the night's batch: only at
    the end of a build, once per batch, so a batch's appends are one snapshot per table that a
    rerun recognises (history.committed). Returns how many."""
    if not all(table_exists(con, "core", t) for t in ("open_events", *H.CLOSED_TABLES)):
        return 0  # before the first build
    union = " UNION ".join(f"SELECT item_id FROM core.{t}" for t in H.CLOSED_TABLES)
    return con.execute(f"""
        INSERT INTO core.closing
        SELECT item_id, ?::BIGINT FROM ({union}) per_item
        ANTI JOIN (SELECT DISTINCT item_id FROM core.open_events) o USING (item_id)
        ANTI JOIN core.closing c USING (item_id)""", [batch]).fetchone()[0]


def _models(paths: Paths, run_date: date, models: list[str], **variables) -> None:
    # --no-write-json: the manifest and run results are not read
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date,
                      ["run", "--select", *models, "--no-write-json"], variables=variables)


def _batch(con: duckdb.DuckDBPyConnection) -> tuple[int | None, date | None, bool]:
    """The staged batch's id and night, and whether the core build accounted for it already."""
    batch, night = con.execute("SELECT any_value(batch), any_value(run_date) FROM staging.batch_meta").fetchone()
    applied = con.execute(
        "SELECT count(*) > 0 AND count(*) FILTER (WHERE l.status = 'staged') = 0 "
        "FROM staging.batch_files bf JOIN core.ledger l ON l.file_id = bf._file_id").fetchone()[0]
    return batch, night, applied


def build_core(paths: Paths, run_date: date, rebuild: tuple[date, date] | None = None) -> dict:
    """The caller holds writer.lock and no connection to the state (dbt opens it itself).
    `rebuild` (first, last day) also rebuilds the timelines of every item with an event on
    those days, from the history (`clearcap rebuild`, on an empty batch)."""
    con = connect_state(paths)
    try:
        batch, _night, applied = _batch(con)
        if rebuild is not None:
            # until its end, an interrupted rebuild is finished by the next run, not left half
            # done: its reopened items' closed rows would stay masked with nothing in their place
            con.execute("INSERT OR REPLACE INTO core.rebuild_pending VALUES (?, ?, ?)", [batch, *rebuild])
        history = flush_pending(con, H.open_history(paths))
        # the batch's event days (a night without files keeps an earlier night's staging rows)
        days = [] if applied or not table_exists(con, "staging", "item_events") else [
            d for (d,) in con.execute(
                "SELECT DISTINCT e.event_utc::DATE FROM staging.item_events e "
                "SEMI JOIN staging.batch_files bf ON bf._file_id = e._file_id "
                "WHERE e.event_utc IS NOT NULL").fetchall()]
    finally:
        con.close()
    if applied:
        # a retry after the ledger commit only finishes: applying the batch again would count
        # its events as duplicates
        _models(paths, run_date, MODELS_LAST)
        _flush(paths, history, batch)
        return {"skipped": "the batch was applied by an earlier attempt"}
    empty_events = empty_file(paths, H.EVENTS_SCHEMA.as_arrow(), "event_day=1970-01-01")
    empty_days = empty_file(paths, H.ITEM_DAYS_SCHEMA.as_arrow(), "first_month=1970-01")
    # the UTC days around the local ones: an item's local day is within a day of its UTC day
    rebuilt = [] if rebuild is None else [rebuild[0] + timedelta(days=n) for n in
                                          range(-1, (rebuild[1] - rebuild[0]).days + 2)]
    common = {"batch": batch, "item_window_days": ITEM_WINDOW_DAYS}
    # the item index of a bounded window before the night's oldest event (ITEM_REOPEN_DAYS), not
    # of every year; nothing to look up when no event touches an item
    since = min(days + rebuilt) - timedelta(days=ITEM_REOPEN_DAYS) if days or rebuilt else None
    _models(paths, run_date, MODELS_FIRST, **common,
            rebuild_files=(H.event_files(history, rebuilt) if rebuilt else []) + [empty_events],
            known_files=(H.event_files(history, days) if days else []) + [empty_events],
            item_day_files=(H.item_day_files(history, since) if since else []) + [empty_days])
    con = connect_state(paths)
    try:
        items = [i for (i,) in con.execute("SELECT item_id FROM work.reopen_days ORDER BY 1").fetchall()]
        reopen_days = [d for (d,) in con.execute(
            "SELECT DISTINCT unnest(range(first_day, last_day + 1, INTERVAL 1 DAY))::DATE "
            "FROM work.reopen_days").fetchall()]
    finally:
        con.close()
    _models(paths, run_date, MODELS_THEN + MODELS_LAST, **common,
            reopened_items=items,
            reopened_files=(H.event_files(history, reopen_days) if reopen_days else []) + [empty_events])
    con = connect_state(paths)
    try:
        stats = dict(zip(
            ["files", "loaded", "quarantined", "rows_loaded", "rows_quarantined", "rows_duplicate"],
            con.execute("""
                SELECT count(*), count(*) FILTER (WHERE NOT (file_quarantined OR all_rows_quarantined)),
                       count(*) FILTER (WHERE file_quarantined OR all_rows_quarantined),
                       sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate)
                FROM work.file_outcomes""").fetchone()))
        stats["items_touched"] = con.execute("SELECT count(*) FROM work.touched_items").fetchone()[0]
        stats["items_read_back"] = len(items)
    finally:
        con.close()
    _flush(paths, history, batch)
    if rebuild is not None:
        con = connect_state(paths)
        try:
            con.execute("DELETE FROM core.rebuild_pending WHERE batch = ?", [batch])
        finally:
            con.close()
    return {k: (int(v) if v is not None else 0) for k, v in stats.items()}


def _flush(paths: Paths, history: H.History, closing_batch: int | None) -> None:
    con = connect_state(paths)
    try:
        flush_pending(con, history, closing_batch)
    finally:
        con.close()


def finish_interrupted(paths: Paths) -> dict | None:
    """A batch whose core build began changing the state (tonight's rows in core.open_events)
    and was never accounted for must be finished with its own staged rows, not loaded again: a
    new load would see those events as already known. So must a rebuild's (core.rebuild_pending). Returns the build's result, or None
    when there is nothing to finish. The caller holds writer.lock."""
    con = connect_state(paths)
    try:
        if not (table_exists(con, "staging", "batch_meta") and table_exists(con, "core", "open_events")):
            return None
        batch, night, applied = _batch(con)
        started = batch is not None and not applied and con.execute(
            "SELECT count(*) > 0 FROM core.open_events WHERE batch = ?", [batch]).fetchone()[0]
        rebuild = con.execute("SELECT first_day, last_day FROM core.rebuild_pending WHERE batch = ?",
                              [batch]).fetchone()
    finally:
        con.close()
    if rebuild is not None:
        return {"night": night.isoformat(), **build_core(paths, night, rebuild=tuple(rebuild))}
    if not started:
        return None
    return {"night": night.isoformat(), **build_core(paths, night)}
