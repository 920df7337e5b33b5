"""How the published items.events view finds one item's timeline (issue 11 step 5).

The view lists every data file of the history snapshot (`read_parquet([...])`, one file or a
few a day, each sorted by item_id, 128 Ki-row groups). This bench writes such a layout
(`event_day=YYYY-MM-DD/partN.parquet`, items spanning two days, `item_days` index files), the
views as publish writes them (transforms.items.view_statements), and times a timeline by S10
id three ways on a fresh read-only connection each:

  item     WHERE item_id = ?                         (every file opened: footer + row-group stats)
  guide    + event_day BETWEEN item_days' min/max    (the analyst guide's query: files pruned by path)
  day      + event_day = <constant>                  (the lower bound: the item's days known)

Run: python -m bench.items_timeline --work /tmp/items_bench --days 365 --events 200000 --files-per-day 3
Prints JSON (p50/p95 ms per query, file counts); no timed assertion anywhere.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from transforms.items import view_statements

D0 = date(2025, 1, 1)


def write_layout(work: Path, days: int, events: int, parts: int) -> tuple[list[str], list[str]]:
    """Day files of `events` events in `parts` files each (late deliveries); returns the event
    files and the item_days files (one a month)."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    per_item, items = 4, events // 4
    ev_files, idx_files = [], []
    for d in range(days):
        day = D0 + timedelta(days=d)
        folder = work / "events" / f"event_day={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(parts):
            out = folder / f"part{part}.parquet"
            # items starting today (their events 0, 1) and yesterday (events 2, 3), split in parts
            con.execute(f"""
                COPY (
                  SELECT 'RR' || lpad((s * {items} + i)::VARCHAR, 9, '0') || 'CN' AS item_id,
                         ['EMD', 'EDB', 'EDC', 'EMF'][k + 1] AS event_code,
                         TIMESTAMP '{day.isoformat()}' + to_seconds((i * 37 + k * 3600) % 86000) AS event_utc,
                         'CNSZXA' AS office_code, NULL::VARCHAR AS next_office_code, 'U' AS mail_class,
                         'US' AS origin_country, 'CN' AS destination_country, 100.0 AS weight_g,
                         NULL::VARCHAR AS retention_code, NULL::VARCHAR AS reason_code, NULL::VARCHAR AS action_code,
                         1::BIGINT AS file_id, i::BIGINT AS line, 480 AS local_offset_min
                  FROM range({items}) r(i), (VALUES ({d}, 0), ({d}, 1), ({d - 1}, 2), ({d - 1}, 3)) v(s, k)
                  WHERE s >= 0 AND i % {parts} = {part}
                  ORDER BY item_id, event_utc)
                TO ? (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)""", [str(out)])
            ev_files.append(str(out))
    month_starts = sorted({(D0 + timedelta(days=d)).replace(day=1) for d in range(days)})
    for m in month_starts:
        out = work / "item_days" / f"first_month={m:%Y-%m}" / "index.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        first, last = (m - D0).days, min(days, ((m + timedelta(days=32)).replace(day=1) - D0).days)
        con.execute(f"""
            COPY (SELECT 'RR' || lpad((s * {items} + i)::VARCHAR, 9, '0') || 'CN' AS item_id,
                         DATE '{D0.isoformat()}' + s::INTEGER AS first_day, DATE '{D0.isoformat()}' + s::INTEGER + 1 AS last_day
                  FROM range({max(first, 0)}, {last}) a(s), range({items}) r(i) ORDER BY item_id)
            TO ? (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)""", [str(out)])
        idx_files.append(str(out))
    con.close()
    return ev_files, idx_files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--events", type=int, default=200_000, help="events per day")
    ap.add_argument("--files-per-day", type=int, default=1)
    ap.add_argument("--queries", type=int, default=15)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    t0 = time.perf_counter()
    ev_files, idx_files = write_layout(args.work, args.days, args.events, args.files_per_day)
    synth_s = time.perf_counter() - t0
    db = args.work / "published.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA items")
        for view, files in (("events", ev_files), ("item_days", idx_files)):
            for stmt in view_statements(view, files):
                con.execute(stmt)
    rng = random.Random(1)
    items = args.events // 4
    picks = [(s, f"RR{s * items + rng.randrange(items):09d}CN") for s in
             (rng.randrange(args.days - 1) for _ in range(args.queries))]
    queries = {
        "item": "SELECT * FROM items.events WHERE item_id = $id ORDER BY event_utc",
        "guide": "SELECT * FROM items.events WHERE item_id = $id AND event_day BETWEEN "
                 "(SELECT min(first_day) FROM items.item_days WHERE item_id = $id) AND "
                 "(SELECT max(last_day) FROM items.item_days WHERE item_id = $id) ORDER BY event_utc",
        "day": "SELECT * FROM items.events WHERE item_id = $id AND event_day BETWEEN $d AND $d + 1 ORDER BY event_utc",
    }
    out = {"days": args.days, "events_per_day": args.events, "event_files": len(ev_files),
           "item_day_files": len(idx_files), "synth_s": round(synth_s, 1)}
    for name, sql in queries.items():
        times, rows = [], set()
        for s, item in picks:
            start = time.perf_counter()
            con = duckdb.connect(str(db), read_only=True)
            con.execute("SET threads = 2")
            # literal values, as an analyst types them (a bound $id is not pushed into the scan)
            text = sql.replace("$id", f"'{item}'").replace("$d", f"DATE '{(D0 + timedelta(days=s)).isoformat()}'")
            rows.add(len(con.execute(text).fetchall()))
            con.close()
            times.append(time.perf_counter() - start)
        times.sort()
        out[name] = {"p50_ms": round(statistics.median(times) * 1000),
                     "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000), "rows": sorted(rows)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
