"""The nightly Data Docs folders (GX builds one site per step and night): their retention and a
plain index page over the nights kept."""
from __future__ import annotations

import html
import shutil
from datetime import date
from pathlib import Path

from transforms.files import write_atomic


def night_folders(root: Path) -> list[Path]:
    """The per-night folders (named by their operating day), oldest first; the shared
    ``static/`` folder and anything else are not nights."""
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        try:
            date.fromisoformat(p.name)
        except ValueError:
            continue
        if p.is_dir():
            out.append(p)
    return sorted(out, key=lambda p: p.name)


def prune_nights(root: Path, keep_nights: int, current: date | None = None) -> list[Path]:
    """Delete the night folders older than the newest ``keep_nights``; the ``current`` night's
    survives this time even when older (a backfill's Data Docs stay until a newer night prunes
    them). Returns the folders deleted."""
    nights = night_folders(root)
    drop = [p for p in nights[:max(0, len(nights) - keep_nights)]
            if current is None or p.name != current.isoformat()]
    for p in drop:
        shutil.rmtree(p)
    return drop


def write_index(root: Path) -> Path:
    items = []
    for night in reversed(night_folders(root)):
        # link the validation pages themselves: GX's own index lists them with JavaScript
        # that is not shipped offline
        links = []
        for step in ("batch", "marts"):
            for page in sorted((night / step / "validations").rglob("*.html")):
                suite = page.relative_to(night / step / "validations").parts[0]
                links.append(f'<a href="{html.escape(page.relative_to(root).as_posix())}">'
                             f"{step}: {html.escape(suite)}</a>")
        items.append(f"<li><b>{html.escape(night.name)}</b><br>" + " · ".join(links) + "</li>")
    page = ("<!doctype html><meta charset='utf-8'><title>clearcap Data Docs</title>"
            "<h1>clearcap — Great Expectations Data Docs 数据质量报告</h1><ul>"
            + "".join(items) + "</ul>")
    return write_atomic(root / "index.html", page)
