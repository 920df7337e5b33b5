"""The `clearcap` command: the same functions the Airflow DAG calls."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path

from transforms.config import HISTORY_YEARS, Paths


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_demo(args) -> int:
    from transforms.demo import generate

    landing = Path(args.landing or Paths.from_args().landing)
    summary = generate(landing, start=args.start, days=args.days, seed=args.seed, scale=args.scale)
    brief = {k: v for k, v in summary.items() if not isinstance(v, (list, dict))}
    print(json.dumps({"landing": str(landing), **brief}, ensure_ascii=False, default=str))
    return 0


def _failed(what: str, paths: Paths, exc: Exception) -> int:
    """A step failed: the published warehouse is untouched; say why, exit non-zero."""
    print(f"clearcap {what}: FAILED, published warehouse {paths.warehouse} left as it was: "
          f"{type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


def cmd_run(args) -> int:
    from transforms.pipeline import run_night

    paths = Paths.from_args(args.landing, args.warehouse)
    if not paths.landing.is_dir():
        print(f"clearcap run: landing zone {paths.landing} does not exist", file=sys.stderr)
        return 2
    last = args.to or args.date
    if last < args.date:
        print("clearcap run: --to is before --date", file=sys.stderr)
        return 2
    day = args.date
    while day <= last:
        try:
            report = run_night(paths, day)
        except Exception as exc:
            return _failed(f"run {day}", paths, exc)
        core = report["build_core"]
        print(f"{day}: files {core['files']} (quarantined {core['quarantined']}), rows loaded "
              f"{core['rows_loaded']}, quarantined {core['rows_quarantined']}, duplicate "
              f"{core['rows_duplicate']}; published {report['publish']['warehouse']} "
              f"in {sum(report['timings'].values()):.1f}s")
        day += timedelta(days=1)
    from transforms.dashboard import build_dashboard

    print(f"Dashboard: {build_dashboard(paths.warehouse, paths.dashboard)}")
    print(f"Data Docs (quality report): {paths.datadocs_dir / 'index.html'}")
    return 0


def cmd_sql(args) -> int:
    from transforms.analyst import run_query

    return run_query(Paths.from_args(None, args.warehouse).warehouse, args.query, args.format)


def cmd_summary(args) -> int:
    from transforms.analyst import print_summary

    return print_summary(Paths.from_args(None, args.warehouse).warehouse, args.date)


def cmd_dashboard(args) -> int:
    from transforms.dashboard import build_dashboard

    paths = Paths.from_args(None, args.warehouse)
    out = Path(args.out) if args.out else paths.dashboard
    if args.sample:  # the warehouse the pipeline publishes for small demo feeds, to preview the page with
        from transforms.dashboard.sample import make_pipeline_warehouse

        if paths.warehouse.exists():
            print(f"clearcap: --sample refuses to overwrite an existing file: {paths.warehouse}",
                  file=sys.stderr)
            return 2
        make_pipeline_warehouse(paths.warehouse)
    out = build_dashboard(paths.warehouse, out, max_days=args.max_days)
    print(f"dashboard written: {out} ({out.stat().st_size:,} bytes)")
    return 0


def cmd_docs(args) -> int:
    from transforms.docs import write_reference

    print(write_reference(Path(args.out)))
    return 0


def cmd_rebuild(args) -> int:
    from transforms.pipeline import rebuild

    if args.to < args.date:
        print("clearcap rebuild: --to is before --from", file=sys.stderr)
        return 2
    paths = Paths.from_args(None, args.warehouse)
    try:
        report = rebuild(paths, args.date, args.to)
    except Exception as exc:
        return _failed("rebuild", paths, exc)
    marts = report["build_marts"]
    print(f"rebuilt {report['from']} .. {report['to']} from the item history: "
          f"{report['build_core']['items_touched']} items, mart days {marts['from']} .. {marts['to']} "
          f"({marts['refresh_days']}); published {report['publish']['warehouse']} "
          f"in {sum(report['timings'].values()):.1f}s")
    return 0


def cmd_history(args) -> int:
    from datetime import datetime, timezone

    from transforms import pipeline

    paths = Paths.from_args(None, args.warehouse)
    if args.action == "compact":
        since = datetime.now(timezone.utc) - timedelta(hours=args.since_hours)
        out = pipeline.compact_history(paths, since)
    else:
        out = pipeline.expire_history(paths, args.date or date.today(), years=args.keep_years)
    print(json.dumps(out))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clearcap", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="write seeded demo feeds into a landing zone")
    d.add_argument("--landing", help="landing zone (default $CLEARCAP_LANDING or var/landing)")
    d.add_argument("--start", type=_date, help="first operating day (default: --days before today)")
    d.add_argument("--days", type=int, default=90)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--scale", type=float, default=1.0)
    d.set_defaults(fn=cmd_demo)

    r = sub.add_parser("run", help="run the nightly pipeline for a day or a range of days, and publish")
    r.add_argument("--landing")
    r.add_argument("--warehouse", help="published DuckDB file (default $CLEARCAP_WAREHOUSE or var/warehouse.duckdb)")
    r.add_argument("--date", type=_date, required=True, help="operating day YYYY-MM-DD")
    r.add_argument("--to", type=_date, help="last operating day of a range (inclusive)")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("sql", help="query the published warehouse read-only")
    s.add_argument("--warehouse")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.add_argument("query")
    s.set_defaults(fn=cmd_sql)

    m = sub.add_parser("summary", help="the morning briefing (Chinese and English)")
    m.add_argument("--warehouse")
    m.add_argument("--date", type=_date)
    m.set_defaults(fn=cmd_summary)

    b = sub.add_parser("dashboard", help="write the self-contained HTML dashboard")
    b.add_argument("--warehouse")
    b.add_argument("--out", help="HTML file to write (default: beside the warehouse)")
    b.add_argument("--max-days", type=int, default=400,
                   help="days of daily data to embed (whole months; older months load on demand)")
    b.add_argument("--sample", action="store_true",
                   help="first write to --warehouse a sample warehouse (preview only): the one the pipeline "
                        "publishes for 30 days of small seeded demo feeds, built in the temp dir on first use")
    b.set_defaults(fn=cmd_dashboard)

    rb = sub.add_parser("rebuild", help="recompute the timelines and marts of a range of days from the item "
                                         "history (after a definition changed), without reading the landing zone")
    rb.add_argument("--warehouse")
    rb.add_argument("--from", dest="date", type=_date, required=True, help="first day YYYY-MM-DD")
    rb.add_argument("--to", type=_date, required=True, help="last day YYYY-MM-DD (inclusive)")
    rb.set_defaults(fn=cmd_rebuild)

    h = sub.add_parser("history", help="maintain the item-level history (the writer: waits for a running night)")
    h.add_argument("action", choices=["compact", "expire"],
                   help="compact: rewrite the small files of recently appended days and months into one each; "
                        "expire: drop event days older than --keep-years, then files no kept publication lists")
    h.add_argument("--warehouse")
    h.add_argument("--since-hours", type=float, default=48, help="compact: partitions appended to in the last H hours")
    h.add_argument("--keep-years", type=int, default=HISTORY_YEARS,
                   help="expire: years of history kept (default $CLEARCAP_HISTORY_YEARS or 5)")
    h.add_argument("--date", type=_date, help="expire: the day the years are counted back from (default today)")
    h.set_defaults(fn=cmd_history)

    o = sub.add_parser("docs", help="regenerate docs/warehouse.md from the warehouse comments")
    o.add_argument("--out", default="docs/warehouse.md")
    o.set_defaults(fn=cmd_docs)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except FileNotFoundError as exc:  # a missing warehouse or landing file: the message says which
        print(f"clearcap: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
