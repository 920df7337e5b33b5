"""python -m transforms.orchestration run --from YYYY-MM-DD --to YYYY-MM-DD [options]

Runs clearance_nightly through real Airflow (embedded default: SQLite metadata under
var/airflow) for every operating day of the range, in order. Also:
  python -m transforms.orchestration env [--home ...]   print `export ...` lines for a shell
                                                         (then: airflow standalone / backfill)
  python -m transforms.orchestration migrate            airflow db migrate (idempotent)
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import date

from transforms.orchestration.env import airflow_env, ensure_airflow_db
from transforms.orchestration.runner import AirflowRunError, run_days


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m transforms.orchestration")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "env", "migrate"):
        p = sub.add_parser(name)
        p.add_argument("--home", help="AIRFLOW_HOME (default var/airflow)")
        p.add_argument("--landing", help="landing zone (default CLEARCAP_LANDING or var/landing)")
        p.add_argument("--warehouse", help="published DuckDB file (default CLEARCAP_WAREHOUSE or var/warehouse.duckdb)")
        if name == "run":
            p.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
            p.add_argument("--to", dest="last", type=date.fromisoformat, help="default: --from")
            p.add_argument("--mode", choices=("dagtest", "cli", "backfill"), default="dagtest",
                           help="dagtest: one process, dag.test() per day (fastest, default); "
                                "cli: `airflow dags test` per day; backfill: `airflow backfill create` "
                                "with scheduler, dag-processor and api-server")
    args = ap.parse_args(argv)
    env = airflow_env(args.home, args.landing, args.warehouse)
    if args.cmd == "env":
        for k in sorted(env):
            if k.startswith(("AIRFLOW", "CLEARCAP_", "PYTHONPATH")):
                print(f"export {k}={shlex.quote(env[k])}")
        return 0
    if args.cmd == "migrate":
        print("migrated" if ensure_airflow_db(env) else "already migrated")
        return 0
    last = args.last or args.first
    t0 = time.monotonic()
    print(f"clearance_nightly via Airflow ({args.mode}) for {args.first} .. {last}; "
          f"AIRFLOW_HOME={env['AIRFLOW_HOME']}", file=sys.stderr)
    try:
        results = run_days(args.first, last, env, mode=args.mode)
    except AirflowRunError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    total = time.monotonic() - t0
    print(f"{len(results)} run(s) succeeded in {total:.1f}s; warehouse: {env['CLEARCAP_WAREHOUSE']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
