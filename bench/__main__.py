"""python -m bench [--small] [--out bench/out/results.json]

One run measures, on the same machine state: the DuckDB floor, clearcap's nightly run of a peak
day (per stage, peak RSS of the process tree), validation share and GX vs plain SQL, dashboard
query latency, and the 60-day vs 7-day history ratio. Prints each figure as a ratio to its
baseline and writes everything to JSON. See bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from bench import landing as landings
from bench import measure, plain_checks

PEAK_DAY = date(2025, 11, 11)
FULL = {"scale": 11.5, "history_scale": 0.2, "reps": 50, "history_repeat": 4}
SMALL = {"scale": 0.23, "history_scale": 0.05, "reps": 50, "history_repeat": 2}
TARGETS = {"run_over_floor": 3.0, "peak_rss_gb": 6.0, "dashboard_p95_ms": 100.0,
           "validation_share": 0.25, "history_ratio": 1.2}
STAGES = {"plan": ["plan"], "read (ingest)": ["ingest"], "load": ["load"],
          "validate": ["build_staging", "validate_marts"], "build_core": ["build_core"],
          "build_marts": ["build_marts"], "publish": ["publish"]}


def _gx_vs_plain(state_db: Path) -> dict:
    """The run's suites on its own staging and mart tables: GX (warm, import timed apart) vs the
    same rules as plain DuckDB count queries, on one connection."""
    import duckdb

    from transforms import validate
    from transforms.db import settings

    con = duckdb.connect(str(state_db))
    settings(con)
    have = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    batch = [(t, s) for t, s, _ in validate.BATCH_SUITES if t in have]
    marts = [(t, s) for t, s in validate.MART_SUITES if t in have]
    t0 = time.perf_counter()
    from transforms import quality
    import transforms.quality.engine  # noqa: F401  (imports great_expectations)
    gx_import = time.perf_counter() - t0
    plain1 = plain_checks.run(con, batch + marts)
    t0 = time.perf_counter()
    quality.validate_many(con, batch)
    if marts:
        quality.validate_many(con, marts, id_column=None)
    gx = time.perf_counter() - t0
    plain2 = plain_checks.run(con, batch + marts)
    con.close()
    plain = min(plain1["seconds"], plain2["seconds"])
    return {"gx_import_s": round(gx_import, 3), "gx_s": round(gx, 3), "plain_sql_s": plain,
            "rules": plain1["rules"], "rows": plain1["rows"],
            "failing_rows_by_rule": {k: v for k, v in plain1["failing"].items() if v}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--small", action="store_true", help="same shape at ~1/50 volume (< 2 minutes)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--work", type=Path, default=Path("bench/out/work"),
                   help="landings (cached) and warehouses")
    p.add_argument("--skip-history", action="store_true")
    a = p.parse_args(argv)
    cfg = SMALL if a.small else FULL
    tag = "small" if a.small else "full"
    out_path = a.out or Path(f"bench/out/results{'-small' if a.small else ''}.json")
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    from transforms.config import DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS

    t_start = time.perf_counter()
    res: dict = {"variant": tag, "command": "python -m bench" + (" --small" if a.small else ""),
                 "machine": measure.machine(), "load_start": measure.load(), "config": cfg,
                 "duckdb_memory_limit": DUCKDB_MEMORY_LIMIT, "duckdb_threads": DUCKDB_THREADS,
                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def note(msg: str) -> None:
        print(f"[bench {time.perf_counter() - t_start:7.1f}s load {measure.load()[0]:.2f}] {msg}", flush=True)

    # 1. landing zone (cached by parameters)
    t0 = time.perf_counter()
    land, shape = landings.peak_day_landing(work / "landing", PEAK_DAY, cfg["scale"])
    res["landing"] = {"path": str(land), "day": PEAK_DAY.isoformat(), "build_s": round(time.perf_counter() - t0, 1),
                      **shape}
    note(f"landing: {shape['events']:,} events, {shape['items']:,} items, {shape['event_files']} event files "
         f"{shape['formats']}, {shape.get('exchange_office')} office + {shape.get('customs_centre')} centre reports")

    # 2. floor
    res["load_floor"] = measure.load()
    res["floor"] = measure.floor(land, PEAK_DAY.isoformat(), work / "floor.duckdb",
                                 DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS)
    (work / "floor.duckdb").unlink(missing_ok=True)
    note(f"floor: {res['floor']}")

    # 3. nightly run in a child, RSS of its tree sampled
    wh_dir = work / "night"
    if wh_dir.exists():
        shutil.rmtree(wh_dir)
    wh_dir.mkdir()
    warehouse = wh_dir / "warehouse.duckdb"
    night_json = wh_dir / "night.json"
    res["load_night"] = measure.load()
    child = measure.run_child(["bench.night", "--landing", str(land), "--warehouse", str(warehouse),
                               "--date", PEAK_DAY.isoformat(), "--out", str(night_json)])
    import json
    night = json.loads(night_json.read_text())
    res["night"] = {**night, "child": child}
    stages = {k: round(sum(night["timings"].get(s, 0) for s in v), 3) for k, v in STAGES.items()}
    res["night"]["stages"] = stages
    note(f"night: {night['total_s']} s, stages {stages}, peak RSS {child['peak_rss_tree_mb']} MB")

    # 4. validation: GX vs the same rules as plain SQL on the run's tables
    res["load_validation"] = measure.load()
    res["validation"] = _gx_vs_plain(warehouse.with_name("warehouse.state") / "state.duckdb")
    note(f"validation: GX {res['validation']['gx_s']} s vs plain SQL {res['validation']['plain_sql_s']} s")

    # 5. dashboard queries on the published warehouse
    res["load_dashboard"] = measure.load()
    res["dashboard"] = {"peak_day": measure.dashboard_queries(warehouse, cfg["reps"])}

    # 6. history ratio
    if not a.skip_history:
        end = PEAK_DAY
        h60, h7 = landings.history_landings(work / "landing", end, cfg["history_scale"])
        hist_json = work / "history.json"
        hw = work / "history"
        if hw.exists():
            shutil.rmtree(hw)
        hw.mkdir()
        res["load_history"] = measure.load()
        measure.run_child(["bench.history", "--long", str(h60), "--short", str(h7), "--end", end.isoformat(),
                           "--work", str(hw), "--out", str(hist_json), "--repeat", str(cfg["history_repeat"])])
        res["history"] = json.loads(hist_json.read_text())
        note(f"history: {res['history']['median_s']} ratio {res['history']['ratio']}")
        res["dashboard"]["history_60d"] = measure.dashboard_queries(hw / "long_run" / "warehouse.duckdb", cfg["reps"])

    # ratios
    run_s = night["total_s"]
    val_s = stages["validate"]
    staging_models_s = sum(v for k, v in night.get("profile", {}).items() if k.startswith("build_staging.dbt_run."))
    p95 = max(q["p95_ms"] for d in res["dashboard"].values() for q in d.values())
    ratios = {
        "run_over_floor": round(run_s / res["floor"]["total_s"], 2),
        "read_over_floor": round(stages["read (ingest)"] / res["floor"]["events_s"], 2),
        "run_over_floor_cpu": round(child["cpu_s"] / max(res["floor"]["cpu_s"], 1e-6), 2),
        "peak_rss_gb": round(child["peak_rss_tree_mb"] / 1024, 2),
        "validation_share": round(val_s / run_s, 3),
        # build_staging also builds the staging models (derived columns the rules read): apart
        "validation_share_excl_staging_models": round(
            (val_s - staging_models_s) / run_s, 3),
        "gx_over_plain_sql": round(res["validation"]["gx_s"] / max(res["validation"]["plain_sql_s"], 1e-6), 1),
        "dashboard_p95_ms_worst": p95,
        "dashboard_p95_over_target": round(p95 / TARGETS["dashboard_p95_ms"], 3),
    }
    if "history" in res:
        ratios["history_ratio"] = res["history"]["ratio"]
    res["ratios"], res["targets"] = ratios, TARGETS
    res["stage_share"] = {k: round(v / run_s, 3) for k, v in stages.items()}
    res["load_end"] = measure.load()
    res["bench_s"] = round(time.perf_counter() - t_start, 1)
    measure.dump(out_path, res)

    print()
    print(f"clearcap bench ({tag}): {shape['events']:,} events / {shape['items']:,} items; "
          f"{res['machine']['nproc']} cores, load {res['load_start']} -> {res['load_end']}")
    print(f"  floor (DuckDB CTAS events + reports)  {res['floor']['total_s']:8.1f} s")
    print(f"  nightly run                            {run_s:8.1f} s   run/floor      {ratios['run_over_floor']:6.2f}  (target <= 3)")
    print(f"  CPU seconds: run {child['cpu_s']} (incl. interpreter start and imports) / floor "
          f"{res['floor']['cpu_s']}          run/floor CPU  {ratios['run_over_floor_cpu']:6.2f}")
    for k, v in stages.items():
        print(f"    {k:<16} {v:8.1f} s   {res['stage_share'][k]:6.1%} of run")
    top = sorted(night.get("profile", {}).items(), key=lambda kv: -kv[1])[:8]
    print("  profile (largest parts): " + ", ".join(f"{k} {v:.1f}s" for k, v in top))
    print(f"  read (ingest) / floor events           {ratios['read_over_floor']:8.2f}")
    print(f"  peak RSS of the run's process tree     {ratios['peak_rss_gb']:8.2f} GB (target < 6; DuckDB limit {DUCKDB_MEMORY_LIMIT})")
    print(f"  validation / run                       {ratios['validation_share']:8.1%}   (target <= 25%)")
    print(f"    of which staging models (dbt in build_staging) {staging_models_s:.1f} s; without them "
          f"{ratios['validation_share_excl_staging_models']:.1%}")
    print(f"  GX / plain SQL, same rules & tables    {ratios['gx_over_plain_sql']:8.1f}x  "
          f"({res['validation']['gx_s']} s vs {res['validation']['plain_sql_s']} s; GX import {res['validation']['gx_import_s']} s apart)")
    print(f"  dashboard p95 worst / 100 ms           {ratios['dashboard_p95_over_target']:8.3f}  ({p95} ms)")
    if "history" in res:
        print(f"  history 60d / 7d final night           {ratios['history_ratio']:8.3f}   (target <= 1.2; "
              f"{res['history']['median_s']})")
    print(f"  wrote {out_path} ({res['bench_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
