"""The peak night on a year of history against the same night on 7 days (issue 11 item 4).

python -m bench.history_peak [--days 365] [--short-days 7] [--events 4000000] [--scale 11.5]
                             [--work DIR] [--out bench/out/history_peak.json]

For each side (the short history first): `--days` event days of `--events` synthesized events a
day, ending the day before the bench's peak day, are written straight into the history layout
of a fresh warehouse's state (`bench.history_year.write_history`: the nightly writer's append,
closed dispatches, tags and expiry); then the peak night (`bench.landing.peak_day_landing` at
`--scale`: 11.5 is the 15.25 M-event day of `python -m bench`) runs on it in a child process
(`bench.night`), as `clearcap run` would on a deployment with that history. The night reads the
history where it must: the event days its events fall on (deduplication), the item index of
`CLEARCAP_ITEM_REOPEN_DAYS` before them (items seen before), the closed dispatches of 12 months
for the year-on-year growth; the two sides differ only in how much history lies around those.

Reports the ratio of the nights (target <= 1.1), each side's stage times, the private state's
size after the night (file and used blocks) and per open event, the history's bytes per event,
and the three analyst queries on the long side (`bench.history_year.measure`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from bench import landing as landings, measure as M
from bench.__main__ import PEAK_DAY
from bench.history_year import measure as history_queries, write_history
from bench.synth_events import EVENTS_PER_ITEM, connect
from transforms import history as H
from transforms.config import ITEM_WINDOW_DAYS, Paths


# what the state keeps for the open items (the rest is the night's working tables and bookkeeping)
OPEN_ITEM_TABLES = ["core.open_events", "core.clearance", "core.dispatch", "core.office_stay"]


def state_size(state_db: Path) -> dict:
    con = duckdb.connect(str(state_db), read_only=True)
    try:
        block, used_blocks = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
        open_events = con.execute("SELECT count(*) FROM core.open_events").fetchone()[0]
        tables = {t: block * con.execute("SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) "
                                         "WHERE persistent", [t]).fetchone()[0] for t in OPEN_ITEM_TABLES}
    finally:
        con.close()
    used, open_bytes = block * used_blocks, sum(tables.values())
    return {"file_bytes": state_db.stat().st_size, "used_bytes": used, "open_events": open_events,
            "open_item_tables_bytes": tables,
            "used_bytes_per_open_event": round(used / open_events, 1) if open_events else None,
            "open_item_bytes_per_open_event": round(open_bytes / open_events, 1) if open_events else None}


def side(work: Path, land: Path, days: int, events: int, window: int, keep: int, threads: int,
         memory: str) -> tuple[dict, H.History, duckdb.DuckDBPyConnection]:
    """A fresh warehouse with `days` days of synthesized history, then the peak night on it."""
    if work.exists():
        shutil.rmtree(work)
    warehouse = work / "warehouse.duckdb"
    paths = Paths.from_args(land, warehouse)
    con = connect(threads, memory, work / "spill")
    t0 = time.perf_counter()
    h, nights = write_history(con, H.open_history(paths), days, int(events / EVENTS_PER_ITEM), keep, window,
                              start=PEAK_DAY - timedelta(days=days))
    write_s = time.perf_counter() - t0
    history_events = sum(n["events"] for n in nights)
    out = work / "night.json"
    child = M.run_child(["bench.night", "--landing", str(land), "--warehouse", str(warehouse),
                         "--date", PEAK_DAY.isoformat(), "--out", str(out)])
    night = json.loads(out.read_text())
    hist_bytes = sum(p.stat().st_size for p in paths.history_dir.rglob("*.parquet"))
    return ({"days": days, "history_events_before": history_events, "write_s": round(write_s, 1),
             "night_s": night["total_s"], "timings": night["timings"], "profile": night["profile"],
             "peak_rss_tree_mb": child["peak_rss_tree_mb"], "state": state_size(paths.state_db),
             "history_bytes": hist_bytes, "load": M.load()}, H.open_history(paths), con)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--short-days", type=int, default=7)
    ap.add_argument("--events", type=int, default=4_000_000, help="synthesized events a history day")
    ap.add_argument("--scale", type=float, default=11.5, help="the peak day's generator scale (11.5: 15.25 M events)")
    ap.add_argument("--window", type=int, default=ITEM_WINDOW_DAYS)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", default="4GB")
    ap.add_argument("--work", type=Path, default=Path("bench/out/work"))
    ap.add_argument("--out", type=Path, default=Path("bench/out/history_peak.json"))
    a = ap.parse_args(argv)
    work = a.work.resolve()
    land, shape = landings.peak_day_landing(work / "landing", PEAK_DAY, a.scale)
    R: dict = {"run_at": datetime.now().isoformat(timespec="seconds"), "args": {k: str(v) for k, v in vars(a).items()},
               "machine": M.machine(), "peak_landing": {"path": str(land), **shape}}
    short, _, con = side(work / "peak_short", land, a.short_days, a.events, a.window, a.keep, a.threads, a.memory)
    con.close()
    R["short"] = short
    print(json.dumps({"short": {k: short[k] for k in ("days", "night_s", "state")}}), flush=True)
    long, h, con = side(work / "peak_long", land, a.days, a.events, a.window, a.keep, a.threads, a.memory)
    R["long"] = long
    print(json.dumps({"long": {k: long[k] for k in ("days", "night_s", "state")}}), flush=True)
    R["ratio_long_over_short"] = round(long["night_s"] / short["night_s"], 3)
    R["history_bytes_per_event"] = round(long["history_bytes"] / (long["history_events_before"] + shape["events"]), 2)
    R["queries_on_long"] = history_queries(con, h, a.days, a.lookups, 11,
                                           start=PEAK_DAY - timedelta(days=a.days))["queries"]
    con.close()
    # the state holds the open items: after a real year, those of the last `window` days
    st = long["state"]
    if st["open_item_bytes_per_open_event"]:
        R["state_projection"] = {
            "open_events_at_steady_state_at_least": int(a.events * a.window),
            "open_item_bytes": int(st["open_item_bytes_per_open_event"] * a.events * a.window),
            "note": "at least the events of the last --window days (and the earlier events of their items), at the open-item tables' bytes per open event after the peak night; the night's working tables come on top"}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(R, indent=2, default=str))
    print(json.dumps({k: R[k] for k in ("ratio_long_over_short", "history_bytes_per_event", "queries_on_long",
                                        "state_projection") if k in R}, indent=2, default=str))


if __name__ == "__main__":
    main()
