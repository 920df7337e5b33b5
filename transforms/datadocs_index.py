"""A plain index page over the nightly Data Docs folders (GX builds one site per step)."""
from __future__ import annotations

import html
from pathlib import Path

from transforms.files import write_atomic


def write_index(root: Path) -> Path:
    nights = sorted((p for p in root.iterdir() if p.is_dir()), reverse=True) if root.is_dir() else []
    items = []
    for night in nights:
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
