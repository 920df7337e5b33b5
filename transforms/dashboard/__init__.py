"""clearcap dashboard: one offline HTML page built from the published marts.

The page inlines the last ``max_days`` days (whole months); older months sit beside it as
period files (``<page>_data/``) it loads on demand, each rewritten only when its rows change.

    from transforms.dashboard import build_dashboard
    build_dashboard(Path("var/warehouse.duckdb"), Path("var/dashboard.html"))
"""

from __future__ import annotations

from pathlib import Path

from transforms.files import write_atomic

from .data import load_dashboard_data, read_dashboard
from .periods import period_dir, write_periods, written_versions
from .render import render_html

__all__ = ["build_dashboard", "load_dashboard_data", "render_html"]


def build_dashboard(warehouse: Path, out: Path, max_days: int = 400) -> Path:
    """Read the published warehouse (read-only, closed before rendering), write the older months
    that changed beside ``out``, then ``out`` atomically. Returns ``out``. Raises
    FileNotFoundError when the warehouse is missing."""
    out = Path(out)
    folder = period_dir(out)
    read = read_dashboard(Path(warehouse), max_days=max_days, written=written_versions(folder))
    meta = read.inline["meta"]
    write_periods(folder, read.periods, {p["month"]: p["version"] for p in meta["periods"]})
    meta["period_dir"] = folder.name
    return write_atomic(out, render_html(read.inline))

