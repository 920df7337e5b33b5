"""python -m bench.gx_engine [--state STATE_DB] [--reps 3] [--only VARIANT ...]

The quality gate (transforms.quality.validate_many: GX's own SQL datasource with the three
settings its module docstring explains) against GX's SQL datasource without them, running the
same suites (expectations/*.json) on the same staging and mart tables: seconds, CPU seconds,
and whether each variant gives the same outcome per rule (success, unexpected count) and the
same failing row ids (what the quarantine deletes by `_row_id`). docs/decisions/0005-gx-engine.md
has the figures, and those of the custom execution engine it replaced (this file at e008925).

Without --state it builds one: the demo landing of 5 days at scale 0.2, one night (day 5).
  in use          quality.validate_many
  sql            `add_sql(connection_string="duckdb://", kwargs={"creator": <cursor of con>})`
  sql+query      the same with query assets (`SELECT * FROM schema.table`) instead of table assets
  sql+autocommit the creator's cursors in autocommit (begin and rollback do nothing)
  sql+autocommit+query  both; what the gate adds to it is the regex rendering (dialect_module)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
START = date(2026, 3, 2)  # tests/pipeline_helpers.START


def _make_state(work: Path) -> Path:
    from transforms import pipeline
    from transforms.config import Paths
    from transforms.demo import generate

    landing = work / "landing"
    if not landing.exists():
        generate(landing, start=START, days=5, seed=11, scale=0.2)
    paths = Paths.from_args(landing, work / "w" / "warehouse.duckdb")
    if not paths.state_db.exists():
        pipeline.run_night(paths, START + timedelta(days=4))
    return paths.state_db


def _checks(con) -> tuple[list, list]:
    from transforms import validate

    have = {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    batch = [(t, s) for t, s, _ in validate.BATCH_SUITES if t in have]
    marts = [(t, s) for t, s in validate.MART_SUITES if t in have]
    return batch, marts


def _sql_validate_many(con, checks, id_column, autocommit: bool, query: bool = False):
    """quality.engine.validate_many's loop on GX's SQL datasource without (all of) its settings."""
    from duckdb_engine import ConnectionWrapper

    from transforms.quality import SuiteRun
    from transforms.quality import engine as E

    wrap = E._AutocommitCursor if autocommit else ConnectionWrapper
    ctx = E._context()
    ds = ctx.data_sources.add_sql(name="sql", connection_string="duckdb://",
                                  kwargs={"creator": lambda: wrap(con.cursor())})
    runs = []
    try:
        for n, (table, suite_name) in enumerate(checks):
            schema, name = E._split_table(table)
            cols = E._columns(con, schema, name)
            qualified = ".".join(E.quote_ident(p) for p in (schema, name) if p)
            batch_query = f"SELECT * FROM {qualified}"
            if query:
                asset = ds.add_query_asset(f"{n}_{table}", query=batch_query)
            else:
                asset = ds.add_table_asset(f"{n}_{table}", table_name=name, schema_name=schema)
            batch = asset.add_batch_definition_whole_table("all").get_batch()
            use_id = id_column if id_column and id_column in cols else None
            fmt = {"result_format": "SUMMARY", "partial_unexpected_count": E.PARTIAL_UNEXPECTED,
                   "return_unexpected_index_query": True}
            if use_id:
                fmt["unexpected_index_column_names"] = [use_id]
            result = batch.validate(E.build_suite(suite_name), result_format=fmt)
            outcomes = [E._outcome(evr, use_id, batch_query, qualified) for evr in result.results]
            runs.append(SuiteRun(table=table, suite_name=suite_name, outcomes=outcomes, result=result))
    finally:
        ds.get_execution_engine().engine.dispose()
    return runs


def _in_use(con, checks, id_column):
    from transforms import quality

    return quality.validate_many(con, checks, id_column=id_column, raise_on_error=False).runs


def _summary(con, runs) -> dict:
    """Per (table, rule, expectation, column): success, unexpected count, error, failing ids."""
    out = {}
    for run in runs:
        for o in run.outcomes:
            ids = None
            if o.failing_ids_sql is not None:
                try:
                    ids = frozenset(r[0] for r in con.execute(o.failing_ids_sql).fetchall())
                except duckdb.Error as e:  # the selection itself does not run
                    ids = f"error: {str(e).splitlines()[0]}"
            key = (run.table, o.rule, o.expectation_type, o.column)
            out[key] = {"success": o.success, "unexpected": o.observed.get("unexpected_count"),
                        "error": (o.observed.get("error") or "").splitlines()[0][:200] if o.observed.get("error") else None, "ids": ids}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", type=Path, help="a state file after a night (default: build one)")
    p.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "work" / "gx_engine")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", nargs="*", help="engine variants to run (default: all)")
    a = p.parse_args(argv)
    state = a.state or _make_state(a.work)
    con = duckdb.connect(str(state), read_only=True)
    batch, marts = _checks(con)
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t, _ in batch + marts}
    print(f"state {state}: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    t0 = time.perf_counter()
    import transforms.quality.engine  # noqa: F401  (GX import, timed apart)
    print(f"GX import {time.perf_counter() - t0:.1f} s")

    engines = {
        "in use": lambda c, i: _in_use(con, c, i),
        "sql": lambda c, i: _sql_validate_many(con, c, i, autocommit=False),
        "sql+query": lambda c, i: _sql_validate_many(con, c, i, autocommit=False, query=True),
        "sql+autocommit": lambda c, i: _sql_validate_many(con, c, i, autocommit=True),
        "sql+autocommit+query": lambda c, i: _sql_validate_many(con, c, i, autocommit=True, query=True),
    }
    if a.only:
        engines = {k: v for k, v in engines.items() if k in a.only}
    _in_use(con, batch, "_row_id")  # warm-up (GX's first validation registers its metrics)
    results, broken = {}, set()
    seconds, cpu = {name: [] for name in engines}, {name: [] for name in engines}
    for _ in range(a.reps):  # interleaved: the machine's load changes alike for every engine
        for name, run in engines.items():
            if name in broken:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                runs = run(batch, "_row_id") + (run(marts, None) if marts else [])
            except Exception as e:  # noqa: BLE001  (a variant that cannot run at all is a finding)
                print(f"  {name}: does not run: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
                broken.add(name)
                continue
            seconds[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            results[name] = _summary(con, runs)
    ref = results["in use"]
    print(f"\n{len(ref)} expectations on {len(batch)} staging + {len(marts)} mart tables, "
          f"{sum(not v['success'] for v in ref.values())} failing in use; "
          f"median of {a.reps} runs (warm)")
    for name, summary in results.items():
        errors = [k for k, v in summary.items() if v["error"]]
        same = [k for k in ref if summary.get(k, {}).get("success") == ref[k]["success"]
                and summary[k]["unexpected"] == ref[k]["unexpected"] and not summary[k]["error"]]
        failing = [k for k in ref if not ref[k]["success"] and ref[k]["ids"] is not None]
        same_ids = [k for k in failing if summary.get(k, {}).get("ids") == ref[k]["ids"]]
        print(f"  {name:29s} {statistics.median(seconds[name]):6.2f} s, {statistics.median(cpu[name]):6.2f} CPU-s"
              f"  (runs {', '.join(f'{s:.2f}' for s in seconds[name])})"
              f"  same outcome {len(same)}/{len(ref)}  errors {len(errors)}"
              f"  same failing ids {len(same_ids)}/{len(failing)} rules")
        for msg in sorted({summary[k]["error"] for k in errors})[:4]:
            print(f"      error ({sum(summary[k]['error'] == msg for k in errors)}): {msg}")
        for k in [k for k in failing if k not in same_ids][:5]:
            got = summary.get(k, {}).get("ids")
            desc = got if isinstance(got, str) or got is None else f"{len(got)} ids"
            print(f"      ids differ {k[0]} {k[1]} ({k[2]}): in use {len(ref[k]['ids'])} ids, {name} {desc}")
        for k in [k for k in ref if k not in same and not summary.get(k, {}).get("error")][:5]:
            print(f"      outcome differs {k[0]} {k[1]} ({k[2]}): in use {ref[k]['success']}/{ref[k]['unexpected']}, "
                  f"{name} {summary[k]['success']}/{summary[k]['unexpected']}")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
