"""The item-level schema `items` of the published warehouse: views over immutable Parquet files.

- items.events, items.item_days: the data files of the history's current snapshot
  (transforms/history.py), listed in the view at publish time. After the rename, that snapshot
  is tagged as the night's publication; `history.expire` keeps the snapshots (so the files) of
  the last KEEP_PUBLICATIONS publications, so a reader holding an older warehouse file keeps
  reading its own list while compaction and retention go on.
- items.clearance, items.dispatch, items.office_stay: the state's per-item tables, copied at
  each publication to `<warehouse>_items/<publication id>/<table>.parquet` (sorted by
  item_id). A folder gets a `published` marker once its warehouse file is renamed into place;
  `prune` deletes the folders older than the last KEEP_PUBLICATIONS published ones, never a
  newer one (a publish killed after its rename and before its marker is still kept).

Columns, types and comments come from transforms/dbt/models/items/_items.yml (catalog.py).
Views take no parameters: file paths reach the view text through transforms.db's quoting.
"""
from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb

from transforms import history as H
from transforms.catalog import comment_statements, items_views
from transforms.config import Paths
from transforms.db import quote_ident, quote_list
from transforms.files import fsync

MARKER = "published"
READ_ONLY = 0o444


def view_statements(view: str, files: list[str], schema: str = "items") -> list[str]:
    """CREATE VIEW + COMMENT statements of one items view over `files` (none: typed, 0 rows)."""
    spec = items_views()[view]
    exprs = spec["expressions"]
    if not files:
        body = "SELECT " + ", ".join(f"NULL::{t} AS {quote_ident(c)}" for c, (t, _) in spec["columns"].items()) + " LIMIT 0"
    else:
        cols = ", ".join(f"{exprs[c]} AS {quote_ident(c)}" if c in exprs else quote_ident(c) for c in spec["columns"])
        if spec["source"] == "history.events":
            # event_day is the partition folder (event_day=YYYY-MM-DD): a filter on it prunes files by path
            reader = f"read_parquet({quote_list(files)}, hive_partitioning = true, hive_types = {{'event_day': DATE}})"
        else:
            reader = f"read_parquet({quote_list(files)}, hive_partitioning = false)"
        body = f"SELECT {cols} FROM {reader}"
    return [f"CREATE VIEW {schema}.{view} AS {body}", *comment_statements(view, spec, schema, kind="VIEW")]


def publication_id(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


def write_items(con: duckdb.DuckDBPyConnection, paths: Paths, history: H.History, pub_id: str,
                schema: str = "pub.items") -> dict:
    """Write schema `items` into the attached database of `schema`: the history views over the
    current snapshots' files, and the per-item tables copied to this publication's folder.
    Returns {view: files listed} and the snapshot ids."""
    snapshots = {"events": history.events.current_snapshot(), "item_days": history.item_days.current_snapshot()}
    sources = {"events": H.table_files(history.events, snapshots["events"].snapshot_id) if snapshots["events"] else [],
               "item_days": H.table_files(history.item_days, snapshots["item_days"].snapshot_id)
               if snapshots["item_days"] else []}
    target = paths.items_dir / pub_id
    target.mkdir(parents=True, exist_ok=True)
    for view, spec in items_views().items():
        source = spec["source"]
        if source.startswith("core."):
            out = target / f"{view}.parquet"
            cols = ", ".join(quote_ident(c) for c in spec["columns"])
            con.execute(f"COPY (SELECT {cols} FROM {source} ORDER BY item_id) TO ? "
                        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)", [str(out)])
            os.chmod(out, READ_ONLY)
            sources[view] = [str(out)]
    fsync(target)
    con.execute(f"CREATE SCHEMA {schema}")
    for view in items_views():
        for stmt in view_statements(view, sources[view], schema):
            con.execute(stmt)
    return {"files": {v: len(f) for v, f in sources.items()}, "folder": str(target),
            "snapshots": {k: (s.snapshot_id if s else None) for k, s in snapshots.items()}}


def mark_published(paths: Paths, pub_id: str) -> None:
    marker = paths.items_dir / pub_id / MARKER
    marker.write_text(pub_id + "\n", encoding="utf-8")
    fsync(marker.parent)


def prune(paths: Paths, keep: int) -> list[str]:
    """Delete the publication folders older than the last `keep` published ones (a folder
    without marker older than those: a publish that failed or was killed). Returns them."""
    if not paths.items_dir.is_dir():
        return []
    folders = sorted(p for p in paths.items_dir.iterdir() if p.is_dir())
    published = [p for p in folders if (p / MARKER).exists()]
    if len(published) < keep:
        return []
    oldest_kept = published[-keep].name
    gone = [p for p in folders if p.name < oldest_kept]
    for p in gone:
        shutil.rmtree(p)
    return [str(p) for p in gone]


def after_publish(paths: Paths, history: H.History, run_date: date, pub_id: str, keep: int) -> dict:
    """Once the warehouse of `pub_id` is in place: mark its folder, tag the history snapshots
    it lists, then expire what the last `keep` publications no longer need."""
    mark_published(paths, pub_id)
    H.tag_publication(history, run_date)
    deleted = H.expire(history.refresh(), keep)
    return {"history_files_deleted": len(deleted), "folders_deleted": prune(paths, keep)}
