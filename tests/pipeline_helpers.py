"""Shared by the integration tests: demo landing zones, runs, and mart snapshots."""
from __future__ import annotations

import math
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb

from transforms.config import Paths

DAILY_MARTS = ["office_daily", "customs_dwell_daily", "centre_daily", "national_daily",
               "lane_weekly", "destination_monthly", "capacity_outlook"]
START = date(2026, 3, 2)
REPO = Path(__file__).resolve().parents[1]


def clearcap(*args: str) -> dict:
    """subprocess arguments for the `clearcap` command of this checkout. Not the console script
    beside sys.executable: it imports the package the venv was installed from, which is another
    checkout's when worktrees share a venv (docs/decisions/0004). `-m` from the repo root puts
    this checkout first on sys.path."""
    return {"args": [sys.executable, "-m", "transforms.cli", *args], "cwd": REPO}


def make_landing(root: Path, days: int = 6, scale: float = 0.02, seed: int = 11) -> Path:
    from transforms.demo import generate

    landing = root / "landing"
    generate(landing, start=START, days=days, seed=seed, scale=scale)
    return landing


def day(n: int) -> date:
    """Operating day n of the demo period (1-based)."""
    return START + timedelta(days=n - 1)


def paths_for(landing: Path, warehouse: Path) -> Paths:
    return Paths.from_args(landing, warehouse)


def empty_state(root: Path, run_date: date) -> Path:
    """A state whose every model dbt created, with no rows: an empty batch through the real
    staging, core and mart models. Returns the state file (its dbt work folder is `dbt` beside it)."""
    from transforms import core_build, dbt_runner, marts
    from transforms.db import sql_text

    paths = Paths.from_args(root / "landing", root / "warehouse.duckdb")
    paths.state_dir.mkdir(parents=True)
    with duckdb.connect(str(paths.state_db)) as c:
        c.execute(sql_text("schema/state.sql"))
        c.execute("SET VARIABLE run_date = ?", [run_date])
        c.execute(sql_text("staging/raw_tables.sql"))
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date, ["run", "--select", "staging"])
    core_build.build_core(paths, run_date)
    marts.run_models(paths, run_date)
    return paths.state_db


def q(paths: Paths, sql: str, *params) -> list[tuple]:
    """Rows of one query on the published warehouse, opened read-only and closed again."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _norm(v):
    if isinstance(v, float):
        return None if math.isnan(v) else float(f"{v:.9g}")
    return v


def snapshot(warehouse: Path, tables: list[str] | None = None,
             drop: tuple[str, ...] = ("loaded_at", "first_seen_at", "file_id", "superseded_by")) -> dict:
    """{table: sorted rows} of the published warehouse, opened read-only."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = tables or [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'mart' "
            "AND table_name <> 'publication' ORDER BY 1").fetchall()]
        out = {}
        for t in names:
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'mart' AND table_name = ? "
                "ORDER BY column_index", [t]).fetchall() if r[0] not in drop]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM mart.{t}").fetchall()
            out[t] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()


def _same_rows(ra: list, rb: list) -> bool:
    """Sorted rows equal, floats (kept to 9 digits by `_norm`) allowed one unit of their 9th
    digit: a mean summed in another order (parallel aggregation) can round either way when it
    sits on a boundary (seen on a night recovered after a killed worker)."""
    def same(x, y):
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=2e-8, abs_tol=1e-12)
        return x == y
    return len(ra) == len(rb) and all(
        len(x) == len(y) and all(same(u, v) for u, v in zip(x, y)) for x, y in zip(ra, rb))


def diff(a: dict, b: dict) -> dict:
    """Tables whose rows differ, with a few example rows from each side."""
    out = {}
    for t in a:
        sa, sb = set(a[t]), set(b.get(t, []))
        if not _same_rows(a[t], b.get(t, [])):
            out[t] = {"only_left": sorted(sa - sb, key=repr)[:3], "only_right": sorted(sb - sa, key=repr)[:3],
                      "sizes": (len(a[t]), len(b.get(t, [])))}
    return out


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=shutil.copy2, dirs_exist_ok=True)
