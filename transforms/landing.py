"""The landing zone: which files are ready, and which of them are new or changed."""
from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import duckdb

FEED_DIRS = ("reference", "exchange_office", "customs_centre", "item_events")
FEED_ORDER = {f: i for i, f in enumerate(FEED_DIRS)}
FINAL_STATUSES = ("loaded", "superseded", "quarantined")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ready_files(landing: Path):
    """Yield (rel_path, feed, folder_date) of every ready file; feed None for unrecognised paths."""
    from transforms.readers import detect_feed, is_ready

    for top in FEED_DIRS:
        root = landing / top
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                if not is_ready(name):
                    continue  # still being written: picked up by a later run
                rel = (Path(dirpath) / name).relative_to(landing).as_posix()
                hit = detect_feed(rel)
                if hit is None:
                    yield rel, None, None
                else:
                    yield rel, hit[0], hit[1]


def plan_files(con: duckdb.DuckDBPyConnection, landing: Path, run_date: date) -> list[dict]:
    """Files whose date folder is on or before run_date and whose content was not loaded yet."""
    known = {
        path: (size, mtime, digest, status)
        for path, size, mtime, digest, status in con.execute(
            """SELECT path, size_bytes, mtime, content_hash, status FROM core.ledger
               QUALIFY row_number() OVER (PARTITION BY path ORDER BY file_id DESC) = 1""").fetchall()
    }
    entries = []
    for rel, feed, folder_date in ready_files(landing):
        if folder_date is not None and folder_date > run_date:
            continue  # a later operating day: its own night picks it up
        full = landing / rel
        st = full.stat()
        prev = known.get(rel)
        if prev and prev[3] in FINAL_STATUSES and prev[0] == st.st_size and prev[1] == st.st_mtime:
            continue
        digest = sha256_of(full)
        if prev and prev[3] in FINAL_STATUSES and prev[2] == digest:
            continue  # touched, not changed
        entries.append({
            "path": rel, "feed": feed or "unknown",
            "folder_date": folder_date.isoformat() if folder_date else None,
            "sha256": digest, "size": st.st_size, "mtime": st.st_mtime,
        })
    entries.sort(key=plan_order)
    return entries


def plan_order(entry: dict) -> tuple:
    """Reference first, then by feed; within a feed by modification time (the later delivery
    wins), then path. Loading sorts by it too, so the outcome never depends on how the files
    were grouped for ingest (the DAG's mapped chunks or the CLI's plan order)."""
    return (FEED_ORDER.get(entry["feed"], len(FEED_ORDER)), entry["mtime"], entry["path"])
