"""Publish schema `mart` and the item-level views `items` (transforms/items.py) as a new DuckDB
file, atomically renamed over the published one.

Analysts hold read-only connections at any hour: they keep the file they opened (the old
inode) until they reconnect, and a new connection sees either the previous or the new
complete warehouse, never half of one.

A read-write session on the published file (`duckdb FILE` opens read-write by default) leaves
`FILE.wal` beside it; renamed over, the new file would meet that WAL and every later connection
would fail ("WAL does not match database file"). So the file is published read-only (mode 0444:
a non-root read-write open fails at once), and a WAL found beside it at publish time is moved
aside, kept, and reported (see docs/architecture.md).
"""
from __future__ import annotations

import logging
import os
import stat
from datetime import date, datetime, timezone

import duckdb

from transforms import history as H, items
from transforms.catalog import comment_statements, mart_tables
from transforms.config import KEEP_PUBLICATIONS, Paths
from transforms.db import quote_ident
from transforms.files import fsync


log = logging.getLogger(__name__)
PUBLISHED_STORAGE_VERSION = "v1.5.0"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def _move_foreign_wal(target) -> str | None:
    """A WAL beside the published file was written by someone else's read-write session (the
    pipeline never writes there): move it aside so the new file opens clean. The session keeps
    its open WAL and the old file's inode; its scratch work goes with the replaced file."""
    wal = target.with_name(target.name + ".wal")
    if not wal.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = target.with_name(f"{target.name}.wal.foreign-{stamp}")
    os.replace(wal, aside)
    log.warning("a read-write session had %s open (its WAL is now %s): the warehouse is published "
                "read-only; open it with read_only=True / `duckdb -readonly`", target, aside)
    return str(aside)


def publish(con: duckdb.DuckDBPyConnection, paths: Paths, run_date: date) -> dict:
    target = paths.warehouse
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.publishing-{os.getpid()}")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    history = H.open_history(paths)
    published_at = datetime.now(timezone.utc).replace(tzinfo=None)
    pub_id = items.publication_id(published_at)
    # Written in the storage format of DuckDB 1.5: the `duckdb` command-line client on PyPI
    # (duckdb-cli 1.5.6) cannot open a file in 2.0's format, and analysts open this one with it.
    con.execute(f"ATTACH ? AS pub (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')", [str(tmp)])
    try:
        con.execute("CREATE SCHEMA pub.mart")
        rows = {}
        for table, spec in mart_tables().items():
            columns = ", ".join(quote_ident(c) for c in spec["columns"])
            types = ", ".join(f"{quote_ident(c)} {t}" for c, (t, _) in spec["columns"].items())
            con.execute(f"CREATE TABLE pub.mart.{table} ({types})")
            # Sorted by the leading key so dashboards' filtered reads touch few row groups.
            con.execute(f"INSERT INTO pub.mart.{table} SELECT {columns} FROM mart.{table} "
                        f"ORDER BY {columns}")
            for stmt in comment_statements(table, spec, schema="pub.mart"):
                con.execute(stmt)
            rows[table] = con.execute(f"SELECT count(*) FROM pub.mart.{table}").fetchone()[0]
        item_files = items.write_items(con, paths, history, pub_id)
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
    os.chmod(tmp, READ_ONLY)
    fsync(tmp)
    foreign_wal = _move_foreign_wal(target)
    os.replace(tmp, target)
    fsync(target.parent)
    con.execute("UPDATE core.runs SET status = 'published', finished_at = now()::TIMESTAMP "
                "WHERE run_date = ?", [run_date])
    # From now on this night's alerts are what people were told: later runs keep them as they are.
    con.execute("INSERT OR IGNORE INTO core.published_nights VALUES (?, now()::TIMESTAMP)", [run_date])
    # The new file is in place: only now may the history forget what older publications listed.
    pruned = items.after_publish(paths, history, run_date, pub_id, KEEP_PUBLICATIONS)
    return {"warehouse": str(target), "rows": rows, "published_at": published_at.isoformat(),
            "foreign_wal": foreign_wal, "items": {**item_files, **pruned}}
