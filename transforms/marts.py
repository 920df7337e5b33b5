"""Recompute the published tables for the days a run touched, in one transaction."""
from __future__ import annotations

from datetime import date

import duckdb

from transforms.catalog import create_statements, mart_tables
from transforms.db import quote_ident, run_sql, sql_text


def ensure_mart_tables(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in create_statements("mart"):
        con.execute(stmt)
    # Columns added to the catalogue after a state was created (the contract only grows).
    for table, spec in mart_tables().items():
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'mart' AND table_name = ?",
            [table]).fetchall()}
        for col, (typ, _) in spec["columns"].items():
            if col not in have:
                con.execute(f"ALTER TABLE mart.{table} ADD COLUMN {quote_ident(col)} {typ}")


def refresh_table(con: duckdb.DuckDBPyConnection, table: str, run_date: date) -> int:
    """Replace the rows of one mart that its refresh rule selects; returns the table's size."""
    spec = mart_tables()[table]
    columns = ", ".join(quote_ident(c) for c in spec["columns"])
    con.execute("SET VARIABLE run_date = ?", [run_date])
    con.execute(f"DELETE FROM mart.{table} WHERE {spec['refresh']}")
    con.execute(f"INSERT INTO mart.{table} ({columns}) "
                f"SELECT {columns} FROM ({sql_text(f'mart/{table}.sql')})")
    return con.execute(f"SELECT count(*) FROM mart.{table}").fetchone()[0]


def build_marts(con: duckdb.DuckDBPyConnection, run_date: date) -> dict:
    ensure_mart_tables(con)
    con.execute("BEGIN")
    try:
        run_sql(con, "mart/refresh_days.sql", run_date=run_date)
        days = con.execute("SELECT count(*), min(d), max(d) FROM temp.refresh_days").fetchone()
        counts = {table: refresh_table(con, table, run_date) for table in mart_tables()}
        if days[0]:
            con.execute("DELETE FROM core.mart_validation; "
                        "INSERT INTO core.mart_validation VALUES ('pending')")
        con.execute("DELETE FROM core.pending_dates")
        con.execute("""INSERT OR REPLACE INTO core.runs (run_date, started_at, finished_at, status)
                       VALUES (?, now()::TIMESTAMP, now()::TIMESTAMP, 'built')""", [run_date])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"refresh_days": days[0], "from": str(days[1]), "to": str(days[2]), "rows": counts}
