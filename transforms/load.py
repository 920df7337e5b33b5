"""Stage a run's batch: ledger rows for its files and the readers' Parquet in staging tables."""
from __future__ import annotations

from datetime import date

import duckdb

from transforms.db import quote_ident, run_sql
from transforms.landing import plan_order

RAW_TABLE = {
    "reference": "staging.raw_reference",
    "exchange_office": "staging.raw_exchange_office",
    "customs_centre": "staging.raw_customs_centre",
    "item_events": "staging.raw_item_events",
}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index", [schema, name]).fetchall()]


def _insert_parquet(con, table: str, files: list[str], path_column: str) -> None:
    """Append the named Parquet files to table, tagged with their ledger file id and folder date."""
    if not files:
        return
    files = sorted(set(files))  # identical deliveries share one Parquet; the join fans it out
    source = "read_parquet($files, filename = true, union_by_name = true)"
    available = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}", {"files": files}).fetchall()}
    target = _columns(con, table)
    picked = [c for c in target if c in available and c not in ("_file_id", "folder_date")]
    tagged = [c for c in ("_file_id", "folder_date") if c in target]
    select = ", ".join([f"bf.{quote_ident(c)}" for c in tagged] + [f"r.{quote_ident(c)}" for c in picked])
    con.execute(f"""
        INSERT INTO {table} ({", ".join(quote_ident(c) for c in tagged + picked)})
        SELECT {select} FROM {source} r JOIN staging.batch_files bf ON r.filename = bf.{quote_ident(path_column)}
    """, {"files": files})


def stage_batch(con: duckdb.DuckDBPyConnection, run_date: date, manifests: list[dict]) -> dict:
    con.execute("BEGIN")
    try:
        # A run that died before build_core left 'staged' rows: its files are planned again.
        con.execute("DELETE FROM core.ledger WHERE status = 'staged'")
        run_sql(con, "staging/raw_tables.sql", run_date=run_date)
        manifests = sorted(manifests, key=plan_order)  # file_order decides redeliveries and duplicates
        for order, m in enumerate(manifests):
            file_id = con.execute("SELECT nextval('core.file_id_seq')").fetchone()[0]
            err = m.get("file_error") or [None, None]
            con.execute(
                """INSERT INTO core.ledger (file_id, path, feed, report_date, content_hash, size_bytes,
                       mtime, status, rows_read, encoding, run_date, first_seen_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'staged', ?, ?, ?,
                       coalesce((SELECT min(first_seen_at) FROM core.ledger WHERE path = ?),
                                now()::TIMESTAMP))""",
                [file_id, m["path"], m["feed"], m["folder_date"], m["sha256"], m["size"], m["mtime"],
                 m["rows_read"], m.get("encoding"), run_date, m["path"]])
            con.execute(
                "INSERT INTO staging.batch_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [file_id, m["path"], m["feed"], m["folder_date"], m["mtime"], order,
                 m.get("rows_path"), m.get("quarantine_path"), m.get("totals_path"),
                 err[0], err[1], m["rows_read"], m.get("encoding")])
        for feed, table in RAW_TABLE.items():
            files = [m["rows_path"] for m in manifests if m["feed"] == feed and m.get("rows_path")]
            _insert_parquet(con, table, files, "rows_path")
        qfiles = [m["quarantine_path"] for m in manifests if m.get("quarantine_path")]
        _insert_parquet(con, "staging.parse_quarantine", qfiles, "quarantine_path")
        tfiles = [m["totals_path"] for m in manifests if m.get("totals_path")]
        if tfiles:
            con.execute("""
                INSERT INTO staging.report_totals
                SELECT row_number() OVER (), bf._file_id, t._line, bf.feed, t."column",
                       -- sums of decimal weights carry float noise: compare at 0.0001
                       -- a total over no (parsable) data rows is compared with 0
                       round(t.reported_total, 4), round(coalesce(t.rows_sum, 0), 4)
                FROM read_parquet(?, filename = true) t
                JOIN staging.batch_files bf ON t.filename = bf.totals_path""", [sorted(set(tfiles))])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    counts = dict(con.execute(
        "SELECT feed, count(*) FROM staging.batch_files GROUP BY feed").fetchall())
    return {"files": len(manifests), "by_feed": counts}
