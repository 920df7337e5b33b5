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

__all__ = ["build_dashboard", "load_dashboard_data", "render_html", "main"]


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


def main(argv: list[str] | None = None) -> int:
    """``python -m transforms.dashboard --warehouse FILE --out PATH.html [--sample]``."""
    import argparse

    p = argparse.ArgumentParser(prog="clearcap dashboard", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", type=Path, required=True, help="published DuckDB warehouse")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")
    p.add_argument("--max-days", type=int, default=400,
                   help="days of daily data to embed (whole months; older months load on demand)")
    p.add_argument("--sample", action="store_true",
                   help="first write a synthetic warehouse to --warehouse (preview only)")
    args = p.parse_args(argv)
    if args.sample:
        from .sample import make_sample_warehouse

        if args.warehouse.exists():
            p.error(f"--sample refuses to overwrite an existing file: {args.warehouse}")

        make_sample_warehouse(args.warehouse)
    out = build_dashboard(args.warehouse, args.out, max_days=args.max_days)
    print(f"dashboard written: {out} ({out.stat().st_size:,} bytes)")
    return 0
