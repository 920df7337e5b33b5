"""Reading one landing file into typed Parquet: the unit of work that fans out across workers."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

from transforms.config import Paths
from transforms.files import atomic_path, write_atomic


def _artifact_base(paths: Paths, entry: dict) -> Path:
    # Named by content, folder and feed: re-ingesting the same bytes is a no-op.
    return paths.ingest_dir / f"{entry['sha256']}.{entry['folder_date'] or 'ref'}.{entry['feed']}"


def _write_parquet(df: pl.DataFrame, target: Path) -> str:
    with atomic_path(target) as tmp:
        df.write_parquet(tmp)
    return str(target)


def ingest_file(paths: Paths, entry: dict) -> dict:
    from transforms import readers
    from transforms.readers.results import QUARANTINE_SCHEMA, failure

    paths.ingest_dir.mkdir(parents=True, exist_ok=True)
    base = _artifact_base(paths, entry)
    manifest_path = Path(str(base) + ".json")
    if manifest_path.exists():
        # Same bytes delivered again (another name, or a rerun): reuse the parsed output, but
        # the manifest describes this delivery.
        return {**json.loads(manifest_path.read_text(encoding="utf-8")), **entry}

    source = paths.landing / entry["path"]
    folder_date = date.fromisoformat(entry["folder_date"]) if entry["folder_date"] else None
    rows_path = Path(str(base) + ".rows.parquet")
    quarantine_path = Path(str(base) + ".quarantine.parquet")
    totals_path = Path(str(base) + ".totals.parquet")
    manifest = dict(entry, rows_path=None, quarantine_path=None, totals_path=None,
                    rows_read=0, rows_parsed=0, rows_parse_quarantined=0, rows_subtotal=0,
                    file_error=None, encoding=None)
    feed = entry["feed"]
    if feed == "unknown":
        manifest["file_error"] = list(failure(
            "unrecognised_path", "path does not match <feed>/<YYYY-MM-DD>/<file>.(csv|xlsx|jsonl[.gz]|csv[.gz])"))
    elif feed == "item_events":
        res = readers.read_events(source, folder_date, rows_path, quarantine_path)
        manifest.update(rows_read=res.rows_read, rows_parsed=res.rows_ok,
                        rows_parse_quarantined=res.rows_quarantined,
                        file_error=list(res.file_error) if res.file_error else None)
        if not res.file_error:
            manifest.update(rows_path=str(rows_path), quarantine_path=str(quarantine_path))
    else:
        if feed == "reference":
            res = readers.read_reference(source)
        else:
            res = readers.read_report(source, feed, folder_date)
        manifest.update(rows_read=res.rows_read, encoding=res.encoding,
                        file_error=list(res.file_error) if res.file_error else None)
        if not res.file_error:
            manifest.update(
                rows_parsed=res.rows.height, rows_parse_quarantined=res.quarantine.height,
                rows_path=_write_parquet(res.rows, rows_path),
                quarantine_path=_write_parquet(
                    res.quarantine.select([pl.col(c).cast(t) for c, t in QUARANTINE_SCHEMA.items()]),
                    quarantine_path),
                totals_path=_write_parquet(res.totals, totals_path) if res.totals.height else None,
                # skipped like total rows (not in rows_read): kept here so the file's lines add up
                rows_subtotal=len(res.subtotal_lines),
            )
    write_atomic(manifest_path, json.dumps(manifest, ensure_ascii=False))
    return manifest
