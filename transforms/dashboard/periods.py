"""The dashboard's older months beside the page: ``<page>_data/<YYYY-MM>.js``, one script per
month that the page adds as a <script> element when asked for that month (it works from
file://, no fetch), and ``manifest.json`` (month -> version) saying which files are current."""

from __future__ import annotations

import json
from pathlib import Path

from transforms.files import write_atomic

from .render import embed_json

MANIFEST = "manifest.json"


def period_dir(page: Path) -> Path:
    return page.with_name(page.stem + "_data")


def written_versions(folder: Path) -> dict[str, str]:
    """month -> version of the period files on disk (a month listed without its file is not)."""
    try:
        versions = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {m: v for m, v in versions.items() if (folder / f"{m}.js").is_file()}


def write_periods(folder: Path, periods: dict[str, dict], versions: dict[str, str]) -> None:
    """Write the months in ``periods``, drop the files of months no longer older than the inline
    window, then the manifest of ``versions`` (last: a build killed midway rewrites the rest)."""
    if not versions and not folder.exists():
        return
    for month, tables in periods.items():
        payload = {"month": month, "version": versions[month], "tables": tables}
        write_atomic(folder / f"{month}.js", f"clearcapPeriod({embed_json(payload)});\n")
    for stale in folder.glob("*.js"):
        if stale.stem not in versions:
            stale.unlink()
    write_atomic(folder / MANIFEST, json.dumps(versions, indent=1, sort_keys=True) + "\n")
