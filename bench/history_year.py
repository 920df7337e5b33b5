"""Year-of-history bench (issue 11 item 4, docs/decisions/0003 step 7): the history store alone.

python -m bench.history_year [--days 365] [--events 4000000] [--work DIR] [--out bench/out/history_year.json]

Writes `--days` event days of `--events` events straight into the history layout through
transforms/history.py (the nightly writer's own append, `add_events`): events synthesized in DuckDB SQL by
bench/synth_events.py, one start day of fresh S10 serials at a time, dates shifted day by day;
an event day is appended as one night (batch) as soon as every item that can have events on it
was generated, then tagged as a publication and expired keeping the last K publications, as the
nightly pipeline will. Then it measures:

- bytes of history per event (data files of the current snapshot; target <= 20 B);
- planning one day's files after `--days` nights of snapshots with expiry on (0001 decides
  against Iceberg if it grows past ~0.5 s), next to planning every file;
- p50/p95 of three analyst queries over the history alone, on file lists frozen from the
  current snapshot (as a publication's views will hold them): one item's timeline by S10 id
  (item_days, then the item's day partitions; target p95 <= 300 ms), the events at one office on
  one day, one lane-month of dispatch legs (target <= 5 s) from the events and from the closed
  items' dispatches (history.dispatch, appended as each item closes: `--window` days after its
  last event);
- what each night's write and maintenance cost, first nights against last, to project the
  full run (365 days x 4 M = 1.46 B events).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.measure import load, machine, pct, timed
from bench.synth_events import EVENTS_PER_ITEM, START, connect, gen_day
from transforms import history as H
from transforms.config import ITEM_WINDOW_DAYS

TARGETS = {"bytes_per_event": 20.0, "timeline_p95_ms": 300.0, "office_day_p95_ms": 2000.0,
           "lane_month_p95_ms": 5000.0, "plan_day_s": 0.5}
OFFICE = "CNSZXA"


# The dispatch of each exported item of temp.gen (models/core/dispatch.sql on synthesized
# events: its EMC, its first EMD abroad after it), with the day it closes: its last event + the
# item window. The nights append these rows to history.dispatch as the core build does.
CLOSING_DISPATCH = """
WITH emc AS (SELECT item_id, office_code AS origin_office, destination_country, event_utc AS dispatch_utc,
                    event_local FROM temp.gen WHERE event_code = 'EMC'),
emd AS (SELECT item_id, min(event_utc) AS arrival_utc FROM temp.gen
        WHERE event_code = 'EMD' AND NOT starts_with(office_code, 'CN') GROUP BY item_id),
last AS (SELECT item_id, max(event_utc)::DATE AS last_day FROM temp.gen GROUP BY item_id)
SELECT e.item_id, e.origin_office, e.destination_country, e.dispatch_utc,
       e.event_local::DATE AS dispatch_date, a.arrival_utc,
       (epoch(a.arrival_utc) - epoch(e.dispatch_utc)) / 86400.0 AS leg_days,
       l.last_day + ?::INTEGER AS close_day
FROM emc e LEFT JOIN emd a ON a.item_id = e.item_id AND a.arrival_utc > e.dispatch_utc
JOIN last l ON l.item_id = e.item_id
"""


def write_history(con, h: H.History, days: int, items_per_day: int, keep: int,
                  window: int, start: date = START) -> tuple[H.History, list[dict]]:
    """Event day d is complete once the items of start day d are generated (no item has events
    before its start day): append it as one batch, and the dispatches of the items that close
    that night (no event for `window` days), tag it, expire."""
    nights = []
    for d in range(days):
        t0 = time.perf_counter()
        gen_day(con, d, items_per_day, start)
        if d == 0:
            con.execute("CREATE OR REPLACE TEMP TABLE pending AS SELECT * FROM temp.gen LIMIT 0")
            con.execute(f"CREATE OR REPLACE TEMP TABLE closing AS {CLOSING_DISPATCH} LIMIT 0", [window])
        con.execute("INSERT INTO temp.pending SELECT * FROM temp.gen WHERE day < ?", [start + timedelta(days=days)])
        con.execute(f"INSERT INTO temp.closing {CLOSING_DISPATCH}", [window])
        day = start + timedelta(days=d)
        t1 = time.perf_counter()
        # the nightly writer's own append: the night staged as temp.history_batch, as the core build does
        con.execute("CREATE OR REPLACE TEMP TABLE history_batch AS SELECT * FROM temp.pending WHERE day = ?", [day])
        n = con.execute("SELECT count(*) FROM temp.history_batch").fetchall()[0][0]
        h = H.add_events(h, con, f"bench-{day.isoformat()}")
        h = H.add_closed(h, con, "dispatch", "SELECT * EXCLUDE (close_day), ?::BIGINT AS closed_batch "
                         "FROM temp.closing WHERE close_day = ?", f"bench-{day.isoformat()}", [d, day])
        t2 = time.perf_counter()
        # the nightly compaction of the closed items' months (once they have enough files)
        for (month,) in con.execute("SELECT DISTINCT date_trunc('month', dispatch_date)::DATE FROM temp.closing "
                                    "WHERE close_day = ?", [day]).fetchall():
            if H.compact_closed_month(h, "dispatch", month, con):
                h = h.refresh()
        con.execute("DELETE FROM temp.pending WHERE day = ?", [day])
        con.execute("DELETE FROM temp.closing WHERE close_day = ?", [day])
        H.tag_publication(h, day)
        h = h.refresh()
        deleted = H.expire(h, keep_publications=keep)
        h = h.refresh()
        t3 = time.perf_counter()
        nights.append({"day": day.isoformat(), "events": n, "gen_s": round(t1 - t0, 2),
                       "append_s": round(t2 - t1, 2), "tag_expire_s": round(t3 - t2, 2),
                       "files_deleted": len(deleted), "snapshots": len(h.events.snapshots())})
        print(json.dumps(nights[-1]), flush=True)
    return h, nights


def files_by_day(h: H.History) -> dict[date, list[str]]:
    """The current snapshot's event files per day, frozen once (what a publication holds)."""
    out: dict[date, list[str]] = {}
    for t in h.events.scan().plan_files():
        out.setdefault(t.file.partition[0], []).append(t.file.file_path.removeprefix("file://"))
    epoch = date(1970, 1, 1)
    return {epoch + timedelta(days=k) if isinstance(k, int) else k: sorted(v) for k, v in out.items()}


def timeline(con, item_files: list[str], day_files: dict[date, list[str]], item: str) -> int:
    first, last = con.execute("SELECT min(first_day), max(last_day) FROM read_parquet(?) WHERE item_id = ?",
                              [item_files, item]).fetchall()[0]
    files = [f for i in range((last - first).days + 1) for f in day_files.get(first + timedelta(days=i), [])]
    return len(con.execute(f"SELECT {', '.join(H.EVENT_COLUMNS)} FROM read_parquet(?) WHERE item_id = ? "
                           "ORDER BY event_utc", [files, item]).fetchall())


def office_day(con, files: list[str], office: str) -> int:
    return con.sql(f"SELECT {', '.join(H.EVENT_COLUMNS)} FROM read_parquet(?) WHERE office_code = ? "
                   "ORDER BY event_utc", params=[files, office]).to_arrow_table().num_rows


LANE_MONTH = """
WITH dispatched AS (
    SELECT item_id, max(event_utc) AS dispatch_utc FROM read_parquet(?)
    WHERE event_code = 'EMC' AND office_code = ? AND destination_country = ?
      AND event_utc >= ?::TIMESTAMP AND event_utc < ?::TIMESTAMP
    GROUP BY item_id),
arrived AS (
    SELECT e.item_id, min(e.event_utc) AS arrival_utc FROM read_parquet(?) e
    SEMI JOIN dispatched d ON d.item_id = e.item_id
    WHERE e.event_code = 'EMD' AND NOT starts_with(e.office_code, 'CN')
    GROUP BY e.item_id)
SELECT count(*), count(arrival_utc),
       quantile_cont(leg_days, 0.5), quantile_cont(leg_days, 0.9)
FROM (SELECT d.item_id, a.arrival_utc,
             (epoch(a.arrival_utc) - epoch(d.dispatch_utc)) / 86400 AS leg_days
      FROM dispatched d LEFT JOIN arrived a ON a.item_id = d.item_id AND a.arrival_utc > d.dispatch_utc)
"""


def lane_month(con, day_files: dict[date, list[str]], first: date, last: date, office: str, country: str):
    month = [f for d, fs in day_files.items() if first <= d <= last for f in fs]
    after = [f for d, fs in day_files.items() if first <= d <= last + timedelta(days=30) for f in fs]
    return con.execute(LANE_MONTH, [month, office, country, first, last + timedelta(days=1), after]).fetchall()[0]


LANE_MONTH_ITEMS = """
SELECT count(*), count(arrival_utc), quantile_cont(leg_days, 0.5), quantile_cont(leg_days, 0.9)
FROM read_parquet(?, hive_partitioning = false)
WHERE origin_office = ? AND destination_country = ? AND dispatch_date BETWEEN ? AND ?
"""


def lane_month_items(con, h: H.History, first: date, last: date, office: str, country: str):
    """The same lane-month from the closed items' dispatches (items.dispatch's history part)."""
    return con.execute(LANE_MONTH_ITEMS, [H.closed_files(h, "dispatch", first, last), office, country,
                                          first, last]).fetchall()[0]


def latencies(fn, args_list) -> dict:
    fn(*args_list[0])  # warm the OS cache like an analyst's second query
    lat = [timed(fn, *a)[1] for a in args_list]
    return {"n": len(lat), "p50_ms": round(pct(lat, 0.5) * 1000, 1), "p95_ms": round(pct(lat, 0.95) * 1000, 1)}


def measure(con, h: H.History, days: int, lookups: int, seed: int, start: date = START) -> dict:
    R: dict = {}
    rng = random.Random(seed)
    all_days = [start + timedelta(days=d) for d in range(days)]
    day_files = files_by_day(h)
    data = [f for fs in day_files.values() for f in fs]
    events = con.execute("SELECT count(*) FROM read_parquet(?)", [data]).fetchall()[0][0]
    ev_bytes = sum(Path(f).stat().st_size for f in data)
    item_files = H.item_day_files(h)
    idx_bytes = sum(Path(f).stat().st_size for f in item_files)
    meta = sum(p.stat().st_size for t in (h.events, h.item_days)
               for p in Path(t.location().removeprefix("file://"), "metadata").glob("*") if p.is_file())
    R["history"] = {"events": events, "event_files": len(data), "item_day_files": len(item_files),
                    "bytes_per_event": round(ev_bytes / events, 2),
                    "item_days_bytes_per_event": round(idx_bytes / events, 2),
                    "metadata_bytes": meta, "snapshots": len(h.events.snapshots())}
    cols = con.execute("SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) "
                       "GROUP BY 1 ORDER BY 2 DESC", [day_files[all_days[days // 2]]]).fetchall()
    mid_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [day_files[all_days[days // 2]]]).fetchall()[0][0]
    R["history"]["bytes_per_event_by_column"] = {c: round(b / mid_rows, 2) for c, b in cols}

    plan = [timed(H.event_files, h, [rng.choice(all_days)])[1] for _ in range(10)]
    R["plan_one_day_s"] = {"p50": round(statistics.median(plan), 3), "max": round(max(plan), 3)}
    R["plan_all_files_s"] = round(timed(lambda: list(h.events.scan().plan_files()))[1], 3)
    R["plan_item_days_s"] = round(timed(H.item_day_files, h)[1], 3)

    sample_files = [rng.choice(data) for _ in range(5)]
    items = [r[0] for r in con.execute("SELECT DISTINCT item_id FROM read_parquet(?) USING SAMPLE 2000 ROWS",
                                       [sample_files]).fetchall()][:lookups]
    q = {}
    q["timeline_nightly_item_days"] = latencies(lambda it: timeline(con, item_files, day_files, it),
                                                [(it,) for it in items[:10]])
    # the nightly maintenance compacts item_days months (one file a night until then)
    t0 = time.perf_counter()
    months = sorted({d.replace(day=1) for d in all_days})
    for m in months:
        H.compact_item_month(h, m, con)
    h = h.refresh()
    R["compact_item_days_s"] = round(time.perf_counter() - t0, 2)
    item_files = H.item_day_files(h)
    R["history"]["item_day_files_compacted"] = len(item_files)
    R["history"]["item_days_bytes_per_event_compacted"] = round(
        sum(Path(f).stat().st_size for f in item_files) / events, 2)
    R["history"]["bytes_per_event_with_index"] = round(
        R["history"]["bytes_per_event"] + R["history"]["item_days_bytes_per_event_compacted"], 2)
    q["timeline"] = latencies(lambda it: timeline(con, item_files, day_files, it), [(it,) for it in items])
    q["office_day"] = latencies(lambda d: office_day(con, day_files[d], OFFICE),
                                [(rng.choice(all_days[7:] or all_days),) for _ in range(10)])
    first = all_days[0]
    last = min(all_days[-1], (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
    q["lane_month"] = latencies(lambda c: lane_month(con, day_files, first, last, OFFICE, c),
                                [(c,) for c in ("US", "GB", "DE", "JP", "KR")])
    R["lane_month_result_US"] = [str(x) for x in lane_month(con, day_files, first, last, OFFICE, "US")]
    if H.closed_files(h, "dispatch", first, last):  # none until items of that month closed
        q["lane_month_items"] = latencies(lambda c: lane_month_items(con, h, first, last, OFFICE, c),
                                          [(c,) for c in ("US", "GB", "DE", "JP", "KR")])
        R["lane_month_items_result_US"] = [str(x) for x in lane_month_items(con, h, first, last, OFFICE, "US")]
    dispatch = H.table_files(h.closed["dispatch"])
    R["history"]["closed_dispatches"] = con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = false)",
                                                    [dispatch]).fetchall()[0][0] if dispatch else 0
    R["history"]["closed_dispatch_files"] = len(dispatch)
    R["lane_month_days"] = [first.isoformat(), last.isoformat()]
    R["queries"] = q
    return R


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/clearcap_history_year")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--events", type=int, default=4_000_000, help="events a day")
    ap.add_argument("--keep", type=int, default=3, help="publications whose snapshots are kept")
    ap.add_argument("--lookups", type=int, default=40)
    ap.add_argument("--window", type=int, default=ITEM_WINDOW_DAYS,
                    help="days without an event before an item closes (its dispatch reaches the history)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", default="4GB")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default="bench/out/history_year.json")
    a = ap.parse_args(argv)
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    con = connect(a.threads, a.memory, work / "spill")
    con.execute("SET parquet_metadata_cache = false")  # an analyst's fresh session reads footers
    items_per_day = int(a.events / EVENTS_PER_ITEM)
    R: dict = {"run_at": datetime.now().isoformat(timespec="seconds"), "args": vars(a),
               "machine": machine(), "load_before": load()}
    t0 = time.perf_counter()
    h, nights = write_history(con, H.open_history(work), a.days, items_per_day, a.keep, a.window)
    R["write_s"] = round(time.perf_counter() - t0, 1)
    head, tail = nights[: max(1, len(nights) // 5)], nights[-max(1, len(nights) // 5):]
    per = {k: {"first_nights": round(statistics.mean(n[k] for n in head), 2),
               "last_nights": round(statistics.mean(n[k] for n in tail), 2)}
           for k in ("gen_s", "append_s", "tag_expire_s")}
    R["per_night"] = per
    R.update(measure(con, h, a.days, a.lookups, a.seed))
    R["load_after"] = load()
    ev_per_s = sum(n["events"] for n in nights) / R["write_s"]
    R["projection_365x4M_write_h"] = round(365 * 4_000_000 / ev_per_s / 3600, 1)
    q = R["queries"]
    R["ratios_to_targets"] = {
        "bytes_per_event": round(R["history"]["bytes_per_event_with_index"] / TARGETS["bytes_per_event"], 2),
        "timeline_p95": round(q["timeline"]["p95_ms"] / TARGETS["timeline_p95_ms"], 2),
        "office_day_p95": round(q["office_day"]["p95_ms"] / TARGETS["office_day_p95_ms"], 2),
        "lane_month_p95": round(q["lane_month"]["p95_ms"] / TARGETS["lane_month_p95_ms"], 2),
        "lane_month_items_p95": (round(q["lane_month_items"]["p95_ms"] / TARGETS["lane_month_p95_ms"], 2)
                                 if "lane_month_items" in q else None),
        "plan_one_day": round(R["plan_one_day_s"]["p50"] / TARGETS["plan_day_s"], 2),
        "tag_expire_last_over_first_nights": round(per["tag_expire_s"]["last_nights"]
                                                   / max(per["tag_expire_s"]["first_nights"], 0.01), 2),
        "append_last_over_first_nights": round(per["append_s"]["last_nights"]
                                               / max(per["append_s"]["first_nights"], 0.01), 2)}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(R, indent=2, default=str))
    print(json.dumps({k: R[k] for k in ("history", "plan_one_day_s", "plan_all_files_s", "queries",
                                        "per_night", "write_s", "projection_365x4M_write_h",
                                        "ratios_to_targets")}, indent=2, default=str))


if __name__ == "__main__":
    main()
