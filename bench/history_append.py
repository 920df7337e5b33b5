"""Append one night to a fresh history both ways (docs/decisions/0004): pyiceberg's Arrow
append (history.append_events) against DuckDB COPY + add_files (history.add_events).

python -m bench.history_append ITEMS_PER_START_DAY   (2 start days; 450000 gives ~1.9 M events)
"""
import shutil
import sys
import time
from pathlib import Path

from bench.synth_events import connect, gen_day
from transforms import history as H

items = int(sys.argv[1])
con = connect(2, "3GB")
gen_day(con, 0, items); gen_day(con, 1, items)
con.execute("CREATE OR REPLACE TEMP TABLE history_batch AS SELECT * FROM temp.gen")
n = con.execute("SELECT count(*), count(DISTINCT event_utc::DATE) FROM temp.history_batch").fetchall()[0]
print("events, days", n, flush=True)
for kind in ("append", "copy"):
    root = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/history_append") / kind; shutil.rmtree(root, ignore_errors=True)
    h = H.open_history(root)
    t = time.perf_counter()
    if kind == "append":
        h = H.append_events(h, con.sql("SELECT * FROM temp.history_batch"), "b1")
    else:
        h = H.add_events(h, con, "b1")
    dt = time.perf_counter() - t
    files = H.event_files(h, [r[0] for r in con.execute("SELECT DISTINCT event_utc::DATE FROM temp.history_batch").fetchall()])
    size = sum(Path(f).stat().st_size for f in files)
    cnt = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchall()[0][0]
    t = time.perf_counter()
    k = con.execute("SELECT count(*) FROM read_parquet(?) h SEMI JOIN (SELECT DISTINCT item_id FROM temp.history_batch) b ON h.item_id = b.item_id", [files]).fetchall()[0][0]
    dd = time.perf_counter() - t
    print(f"{kind}: {dt:.1f} s for {cnt} events in {len(files)} files, {size/cnt:.1f} B/event; dedup semi join read {dd:.2f} s", flush=True)
