"""Child process: one nightly run (transforms.pipeline.run_night) with a finer profile.

python -m bench.night --landing L --warehouse W --date D --out result.json

The profile wraps (never changes) a few functions the steps call, to split each step's time:
ingest per feed, and inside build_staging the staging models, GX (validate_many), routing of
failures, recording and Data Docs. The step timings are run_night's own.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

PROFILE: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


def _wrap(obj, name: str, key, ) -> None:
    fn = getattr(obj, name)

    def wrapped(*args, **kwargs):
        k = key(*args, **kwargs) if callable(key) else key
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            PROFILE[k] += time.perf_counter() - t0
            COUNTS[k] += 1

    setattr(obj, name, wrapped)


def instrument() -> None:
    from transforms import core_build, load, marts, pipeline, quality, validate

    # ingest runs in worker processes for a big night (pipeline.ingest_parallel): its per-feed
    # split is not profiled here; run_night's "ingest" timing covers it
    _wrap(validate, "_build", lambda paths, run_date, select, exclude=(): f"build_staging.dbt_run.{'+'.join(select)}")
    _wrap(quality, "validate_many", "validate.gx_validate_many")
    _wrap(validate, "_route", "validate.route_failures")
    _wrap(validate, "_record", "validate.record_results")
    _wrap(validate, "_datadocs", "validate.data_docs")
    _wrap(core_build, "_models", lambda paths, run_date, models, **kw: f"build_core.dbt_run.{models[0]}..")
    _wrap(core_build, "flush_pending", "build_core.history_append")
    _wrap(load, "_insert_parquet", lambda con, table, files, col: f"load.insert.{table}")
    _wrap(load, "run_sql", lambda con, rel, **kw: f"load.sql.{rel}")
    _wrap(marts, "run_models", "build_marts.dbt_run")
    _wrap(marts, "publish_lineage", "build_marts.dbt_docs")
    _wrap(marts, "record_build", "build_marts.record")


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--landing", required=True)
    p.add_argument("--warehouse", required=True)
    p.add_argument("--date", required=True, type=date.fromisoformat)
    p.add_argument("--out", required=True)
    p.add_argument("--no-profile", action="store_true")
    a = p.parse_args(argv)
    t_import = time.perf_counter()
    from transforms import pipeline
    from transforms.config import DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS, Paths

    if not a.no_profile:
        instrument()
    import_s = time.perf_counter() - t_import
    paths = Paths.from_args(a.landing, a.warehouse)
    t0 = time.perf_counter()
    report = pipeline.run_night(paths, a.date)
    total = time.perf_counter() - t0
    out = {
        "run_date": a.date.isoformat(),
        "total_s": round(total, 3),
        "timings": report["timings"],
        "profile": {k: round(v, 3) for k, v in sorted(PROFILE.items())},
        "profile_calls": dict(COUNTS),
        "import_s": round(import_s, 3),
        "maxrss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "duckdb_memory_limit": DUCKDB_MEMORY_LIMIT,
        "duckdb_threads": DUCKDB_THREADS,
        "load": report.get("load"),
        "build_staging": {k: v for k, v in (report.get("build_staging") or {}).items() if k != "data_docs"},
    }
    Path(a.out).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
