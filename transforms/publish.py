"""Publish schema `mart` as a new DuckDB file, atomically renamed over the published one.

Analysts hold read-only connections at any hour: they keep the file they opened (the old
inode) until they reconnect, and a new connection sees either the previous or the new
complete warehouse, never half of one.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone

import duckdb

from transforms.catalog import comment_statements, mart_tables
from transforms.config import Paths


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(con: duckdb.DuckDBPyConnection, paths: Paths, run_date: date) -> dict:
    target = paths.warehouse
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.publishing-{os.getpid()}")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con.execute(f"ATTACH '{tmp}' AS pub")
    try:
        con.execute("CREATE SCHEMA pub.mart")
        rows = {}
        for table, spec in mart_tables().items():
            columns = ", ".join(f'"{c}"' for c in spec["columns"])
            types = ", ".join(f'"{c}" {t}' for c, (t, _) in spec["columns"].items())
            con.execute(f"CREATE TABLE pub.mart.{table} ({types})")
            # Sorted by the leading key so dashboards' filtered reads touch few row groups.
            con.execute(f"INSERT INTO pub.mart.{table} SELECT {columns} FROM mart.{table} "
                        f"ORDER BY {columns}")
            for stmt in comment_statements(table, spec, schema="pub.mart"):
                con.execute(stmt)
            rows[table] = con.execute(f"SELECT count(*) FROM pub.mart.{table}").fetchone()[0]
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        con.execute("CREATE TABLE pub.mart.publication AS SELECT ?::DATE AS run_date, "
                    "?::TIMESTAMP AS published_at", [run_date, published_at])
        con.execute("COMMENT ON TABLE pub.mart.publication IS "
                    "'When this warehouse was published and for which operating day'")
        con.execute("COMMENT ON COLUMN pub.mart.publication.run_date IS "
                    "'Operating day of the nightly run that published this file'")
        con.execute("COMMENT ON COLUMN pub.mart.publication.published_at IS "
                    "'When this file was published (UTC)'")
        con.execute("CHECKPOINT pub")
    finally:
        con.execute("DETACH pub")
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)
    con.execute("UPDATE core.runs SET status = 'published', finished_at = now()::TIMESTAMP "
                "WHERE run_date = ?", [run_date])
    # From now on this night's alerts are what people were told: later runs keep them as they are.
    con.execute("INSERT OR IGNORE INTO core.published_nights VALUES (?, now()::TIMESTAMP)", [run_date])
    return {"warehouse": str(target), "rows": rows, "published_at": published_at.isoformat()}
