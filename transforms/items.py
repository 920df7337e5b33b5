"""The item-level schema `items` of the published warehouse: views over immutable Parquet files.

- items.events, items.item_days: the data files of the history's current snapshot
  (transforms/history.py), listed in the view at publish time. After the rename, that snapshot
  is tagged as the night's publication; `history.expire` keeps the snapshots (so the files) of
  the last KEEP_PUBLICATIONS publications, so a reader holding an older warehouse file keeps
  reading its own list while compaction and retention go on.
- items.clearance, items.dispatch, items.office_stay: the closed items' rows, data files of the
  history's tables of the same name (current snapshot, tagged like the events), superseded rows
  left out (core.reopened_items), and the open items' rows, the state's per-item tables copied
  at each publication to `<warehouse>_items/<publication id>/<table>.parquet` (sorted by
  item_id) with core.reopened_items: a copy bounded by the items in flight, not by history.
  A folder gets a `published` marker once its warehouse file is renamed into place; `prune`
  deletes the folders older than the last KEEP_PUBLICATIONS published ones, never a newer one
  (a publish killed after its rename and before its marker is still kept).

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
from transforms.db import quote_ident, quote_list, quote_literal
from transforms.files import fsync

MARKER = "published"
READ_ONLY = 0o444


def view_statements(view: str, files: list[str], schema: str = "items", open_file: str | None = None,
                    reopened_file: str | None = None) -> list[str]:
    """CREATE VIEW + COMMENT statements of one items view over `files` (none: typed, 0 rows);
    a per-item view (source history.<table>) also over the open items' `open_file`, its
    history rows masked by `reopened_file`."""
    spec = items_views()[view]
    exprs = spec["expressions"]
    cols = ", ".join(f"{exprs[c]} AS {quote_ident(c)}" if c in exprs else quote_ident(c) for c in spec["columns"])
    if spec["source"] == "history.events" and files:
        # event_day is the partition folder (event_day=YYYY-MM-DD): a filter on it prunes files by path
        body = (f"SELECT {cols} FROM read_parquet({quote_list(files)}, hive_partitioning = true, "
                "hive_types = {'event_day': DATE})")
    elif spec["source"] == "history.item_days" and files:
        body = f"SELECT {cols} FROM read_parquet({quote_list(files)}, hive_partitioning = false)"
    elif open_file is not None:
        parts = [f"SELECT {cols} FROM read_parquet({quote_literal(open_file)})"]
        if files:
            # union_by_name: files from before the model gained a column read it as NULL
            parts.insert(0, f"SELECT {cols} FROM read_parquet({quote_list(files)}, hive_partitioning = false, "
                            "union_by_name = true) h "
                            f"WHERE NOT EXISTS (SELECT 1 FROM read_parquet({quote_literal(reopened_file)}) r "
                            f"WHERE r.item_id = h.item_id AND h.{H.CLOSED_BATCH} <= r.batch)")
        body = " UNION ALL ".join(parts)
    else:
        body = "SELECT " + ", ".join(f"NULL::{t} AS {quote_ident(c)}" for c, (t, _) in spec["columns"].items()) + " LIMIT 0"
    return [f"CREATE VIEW {schema}.{view} AS {body}", *comment_statements(view, spec, schema, kind="VIEW")]


def publication_id(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


def write_items(con: duckdb.DuckDBPyConnection, paths: Paths, history: H.History, pub_id: str,
                 schema: str = "pub.items") -> dict:
    """Write schema `items` into the attached database of `schema`: views over the current
    snapshots' files, and the open items' per-item rows copied to this publication's folder.
    Returns {view: files listed} and the snapshot ids."""
    tables = {"events": history.events, "item_days": history.item_days, **history.closed}
    snapshots = {name: t.current_snapshot() for name, t in tables.items()}
    sources = {name: H.table_files(tables[name], snap.snapshot_id) if snap else [] for name, snap in snapshots.items()}
    target = paths.items_dir / pub_id
    target.mkdir(parents=True, exist_ok=True)

    def copy(select: str, name: str) -> str:
        out = target / f"{name}.parquet"
        con.execute(f"COPY ({select} ORDER BY item_id) TO ? (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
                    [str(out)])
        os.chmod(out, READ_ONLY)
        return str(out)

    reopened = copy("SELECT item_id, batch FROM core.reopened_items", "reopened_items")
    opened = {view: copy(f"SELECT {', '.join(quote_ident(c) for c in spec['columns'])} FROM core.{view}", view)
              for view, spec in items_views().items() if view in history.closed}
    fsync(target)
    con.execute(f"CREATE SCHEMA {schema}")
    for view in items_views():
        for stmt in view_statements(view, sources[view], schema, opened.get(view), reopened):
            con.execute(stmt)
    return {"files": {v: len(f) + (v in opened) for v, f in sources.items()}, "folder": str(target),
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
