"""Measurement spike for issues 11 (history layer) and 12 (dbt): figures for docs/decisions/.

Not part of the project's install or tests. Run it in a scratch venv that has duckdb==2.0.1,
pyiceberg[sql-sqlite], pyarrow (and dbt-core 1.11 + dbt-duckdb 1.11 for --dbt):

    python -m bench.spike_history --work /tmp/spike/work --days 60 --short 7 --events 2000000
    python -m bench.spike_history --work /tmp/spike/work --dbt-only

Feed-C-shaped events are synthesized in DuckDB SQL (no Python row loop) per start day and
written once as day-partitioned, item-sorted Parquet; both layouts reference those files:
  A  Iceberg (pyiceberg SqlCatalog on SQLite), partition day(event_utc), files registered with
     add_files (one commit a night), the night appended by pyiceberg (pyarrow writer);
  B  Hive-partitioned Parquet (COPY ... PARTITION_BY) + a JSON manifest replaced atomically.
The long history (--days) and the short one (its last --short days) get the same night on top,
so every figure is a ratio of the same work on more history.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from bench.measure import pct, timed
from bench.synth_events import EVENTS_PER_ITEM, START, connect, gen_day

COLUMNS = ("item_id, event_code, event_utc, office_code, event_local, next_office_code, mail_class, "
           "origin_country, destination_country, weight_g, retention_code, reason_code, action_code, "
           "event_time, file_id, line")
KEY = "item_id, event_code, event_utc, office_code"


def write_hive(con, root: Path, source: str) -> None:
    """Append `source` (a table with a `day` column) to a Hive layout, sorted by item per file."""
    con.execute(f"COPY (SELECT * FROM {source} ORDER BY day, item_id, event_utc) TO ? "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), APPEND, "
                " FILENAME_PATTERN 'part_{uuid}')", [str(root)])


def hive_files(root: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in sorted(root.glob("day=*/*.parquet")):
        out.setdefault(p.parent.name[4:], []).append(str(p))
    return out


def write_manifest(path: Path, files: dict[str, list[str]], version: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "days": files}))
    os.replace(tmp, path)


def dir_bytes(root: Path, pattern: str = "**/*") -> int:
    return sum(p.stat().st_size for p in root.glob(pattern) if p.is_file())


# ---------------------------------------------------------------------------------------------
# history synthesis

def synthesize(con, work: Path, days: int, items_per_day: int) -> dict:
    base = work / "base_events"
    stamp = work / "base_done.json"
    if stamp.exists() and json.loads(stamp.read_text()) == [days, items_per_day]:
        return {"reused": True}
    shutil.rmtree(base, ignore_errors=True)
    t0 = time.perf_counter()
    rows = 0
    for d in range(days):
        gen_day(con, d, items_per_day)
        # only events up to the last history day; later ones belong to future nights
        con.execute("DELETE FROM temp.gen WHERE day >= ?", [START + timedelta(days=days)])
        rows += con.execute("SELECT count(*) FROM temp.gen").fetchone()[0]
        write_hive(con, base, "temp.gen")
    stamp.write_text(json.dumps([days, items_per_day]))
    return {"rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def make_night(con, days: int, items_per_day: int, dup_per_day: int, base_files) -> int:
    """temp.night: the events that arrive the night after the history's last day: new items of
    that day, the spill of earlier items into it, and re-sent copies of earlier days' events."""
    night = START + timedelta(days=days)
    for d in range(max(0, days - 5), days + 1):  # items that can still have events on `night`
        gen_day(con, d, items_per_day)
        if d == max(0, days - 5):
            con.execute("CREATE OR REPLACE TEMP TABLE night AS SELECT * FROM temp.gen LIMIT 0")
        con.execute("INSERT INTO temp.night SELECT * FROM temp.gen WHERE day = ?", [night])
    for back in (1, 2):  # at-least-once delivery: copies of events already in history
        day = (night - timedelta(days=back)).isoformat()
        con.execute(f"INSERT INTO temp.night SELECT {COLUMNS}, event_utc::DATE AS day "
                    "FROM read_parquet(?) ORDER BY hash(item_id, event_code, line) LIMIT ?",
                    [base_files[day], dup_per_day])
    return con.execute("SELECT count(*) FROM temp.night").fetchone()[0]


# ---------------------------------------------------------------------------------------------
# layout A: Iceberg through pyiceberg

def iceberg_catalog(work: Path):
    from pyiceberg.catalog.sql import SqlCatalog

    (work / "iceberg").mkdir(parents=True, exist_ok=True)
    return SqlCatalog("spike", uri=f"sqlite:///{work / 'iceberg' / 'catalog.db'}",
                      warehouse=f"file://{work / 'iceberg' / 'warehouse'}")


def iceberg_table(cat, name: str, arrow_schema, files_by_day: dict[str, list[str]]):
    from pyiceberg.transforms import DayTransform

    try:
        cat.create_namespace("hist")
    except Exception:  # already there
        pass
    ident = f"hist.{name}"
    if cat.table_exists(ident):
        cat.drop_table(ident)  # not purge_table: it deletes the shared add_files'd base files
    tbl = cat.create_table(ident, schema=arrow_schema, properties={
        "write.parquet.compression-codec": "zstd",
        "commit.manifest-merge.enabled": "true",
    })
    with tbl.update_spec() as spec:
        spec.add_field("event_utc", DayTransform(), "event_day")
    t0 = time.perf_counter()
    for day in sorted(files_by_day):  # one commit a night, as nightly appends would make
        tbl.add_files(file_paths=files_by_day[day])
    return cat.load_table(ident), time.perf_counter() - t0


def iceberg_files(tbl, days: list[str] | None = None, snapshot_id: int | None = None) -> list[str]:
    from pyiceberg.expressions import AlwaysTrue, Or, And, GreaterThanOrEqual, LessThan

    expr = AlwaysTrue()
    if days:
        parts = [And(GreaterThanOrEqual("event_utc", f"{d}T00:00:00"),
                     LessThan("event_utc", f"{date.fromisoformat(d) + timedelta(days=1)}T00:00:00"))
                 for d in days]
        expr = parts[0]
        for p in parts[1:]:
            expr = Or(expr, p)
    scan = tbl.scan(row_filter=expr, snapshot_id=snapshot_id)
    return [t.file.file_path.removeprefix("file://") for t in scan.plan_files()]


# ---------------------------------------------------------------------------------------------
# the queries both layouts answer (DuckDB over a list of Parquet files)

def dedup(con, files: list[str]) -> int:
    """The project's dedup (core/events.sql): first copy per key in the batch, anti-joined with
    the history events of the batch's items."""
    con.execute("CREATE OR REPLACE TEMP TABLE batch_items AS SELECT DISTINCT item_id FROM temp.night")
    return con.execute(f"""
        WITH first_copy AS (
            SELECT {KEY}, arg_min(line, (file_id, line)) AS first_line
            FROM temp.night GROUP BY ALL),
        known AS (
            SELECT {KEY} FROM read_parquet(?) c SEMI JOIN temp.batch_items b USING (item_id))
        SELECT count(*) FROM first_copy f ANTI JOIN known k USING ({KEY})""", [files]).fetchone()[0]


def timeline(con, files: list[str], item: str) -> int:
    return len(con.execute(f"SELECT {COLUMNS} FROM read_parquet(?) WHERE item_id = ? "
                           "ORDER BY event_utc", [files, item]).fetchall())


def worklist(con, files: list[str], office: str, as_of: date) -> int:
    """Items presented at an office, not released by the end of as_of, in customs > 72 h."""
    return len(con.execute("""
        WITH e AS (SELECT item_id, event_code, event_utc, retention_code FROM read_parquet(?)
                   WHERE office_code = ? AND event_utc < ?::TIMESTAMP
                     AND event_code IN ('EDB', 'EXA', 'EDC', 'EXC', 'EME')),
        p AS (SELECT item_id, min(event_utc) FILTER (WHERE event_code IN ('EDB', 'EXA')) AS presented,
                     max(retention_code) AS retention_code,
                     count(*) FILTER (WHERE event_code IN ('EDC', 'EXC')) AS releases
              FROM e GROUP BY item_id)
        SELECT item_id, presented, retention_code,
               (epoch(?::TIMESTAMP) - epoch(presented)) / 3600 AS hours
        FROM p WHERE presented IS NOT NULL AND releases = 0
          AND presented < ?::TIMESTAMP - INTERVAL 72 HOUR""",
        [files, office, as_of + timedelta(days=1), as_of + timedelta(days=1),
         as_of + timedelta(days=1)]).fetchall())


def day_range(last: date, n: int) -> list[str]:
    return [(last - timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]


# ---------------------------------------------------------------------------------------------

def run_history(args) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    con = connect(args.threads, args.memory, work / "spill")
    items_per_day = int(args.events / EVENTS_PER_ITEM)
    R: dict = {"events_per_day_target": args.events, "items_per_day": items_per_day,
               "days": args.days, "short": args.short}

    R["synthesize"] = synthesize(con, work, args.days, items_per_day)
    base = hive_files(work / "base_events")
    all_days = sorted(base)
    long_days = all_days
    short_days = all_days[-args.short:]
    long_rows = con.execute("SELECT count(*) FROM read_parquet(?)",
                            [[f for d in long_days for f in base[d]]]).fetchone()[0]
    long_bytes = sum(os.path.getsize(f) for d in long_days for f in base[d])
    R["history"] = {"events": long_rows, "files": sum(len(base[d]) for d in long_days),
                    "bytes_per_event_duckdb_zstd": round(long_bytes / long_rows, 2)}
    # where the bytes go (one day's files): which columns to keep, drop or re-encode
    cols = con.execute("""SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?)
                          GROUP BY 1 ORDER BY 2 DESC""", [base[all_days[-2]]]).fetchall()
    day_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [base[all_days[-2]]]).fetchone()[0]
    R["history"]["bytes_per_event_by_column"] = {c: round(b / day_rows, 2) for c, b in cols}

    n_night, t = timed(make_night, con, args.days, items_per_day, args.dups, base)
    R["night"] = {"events": n_night, "days": [str(r[0]) for r in con.execute(
        "SELECT DISTINCT day FROM temp.night ORDER BY 1").fetchall()], "gen_s": round(t, 1)}
    night_days = R["night"]["days"]
    arrow_schema = con.execute(f"SELECT {COLUMNS} FROM temp.night LIMIT 0").to_arrow_table().schema
    night_arrow = con.execute(f"SELECT {COLUMNS} FROM temp.night ORDER BY item_id, event_utc"
                              ).to_arrow_table()

    # ---- layout B: Hive Parquet + manifest
    B: dict = {}
    for label, days in (("short", short_days), ("long", long_days)):
        root = work / f"hive_{label}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        manifest = root / "manifest.json"
        files = {d: list(base[d]) for d in days}
        write_manifest(manifest, files, 1)
        def append_night():
            write_hive(con, root / "events", "temp.night")
            for d, new_files in hive_files(root / "events").items():
                files[d] = files.get(d, []) + new_files
            write_manifest(manifest, files, 2)

        _, t_append = timed(append_night)
        night_bytes = dir_bytes(root / "events", "**/*.parquet")
        B[label] = {"append_night_s": round(t_append, 2),
                    "night_bytes_per_event": round(night_bytes / n_night, 2),
                    "files": sum(len(v) for v in files.values())}
        B[label]["files_by_day"] = files
    # ---- layout A: Iceberg
    A: dict = {}
    cat = iceberg_catalog(work)
    for label, days in (("short", short_days), ("long", long_days)):
        tbl, t_reg = iceberg_table(cat, label, arrow_schema, {d: base[d] for d in days})
        _, t_append = timed(tbl.append, night_arrow)
        tbl = cat.load_table(f"hist.{label}")
        data_dir = Path(tbl.location().removeprefix("file://")) / "data"
        meta_dir = Path(tbl.location().removeprefix("file://")) / "metadata"
        files_all, t_plan_all = timed(iceberg_files, tbl)
        files_night, t_plan_night = timed(iceberg_files, tbl, night_days)
        A[label] = {"register_history_s": round(t_reg, 1), "append_night_s": round(t_append, 2),
                    "night_bytes_per_event": round(dir_bytes(data_dir, "**/*.parquet") / n_night, 2),
                    "metadata_bytes": dir_bytes(meta_dir), "snapshots": len(tbl.snapshots()),
                    "plan_all_s": round(t_plan_all, 3), "plan_night_days_s": round(t_plan_night, 3),
                    "files": len(files_all), "files_night_days": len(files_night)}
        A[label]["tbl"] = tbl

    # ---- queries, same file lists for both layouts where the layout gives the same files
    expected_new = None
    for name, L in (("hive", B), ("iceberg", A)):
        for label in ("short", "long"):
            m = L[label]
            if name == "hive":
                fb = m["files_by_day"]
                all_files = [f for v in fb.values() for f in v]
                part_files = [f for d in night_days for f in fb.get(d, [])]
            else:
                all_files = iceberg_files(m["tbl"])
                part_files = iceberg_files(m["tbl"], night_days)
            # the batch is already appended: dedup it against history *before* the append
            night_set = set(str(p) for p in Path(work).glob(f"hive_{label}/events/**/*.parquet")) \
                if name == "hive" else set(iceberg_files(m["tbl"])) - set(
                    f for d in (short_days if label == "short" else long_days) for f in base[d])
            all_files = [f for f in all_files if f not in night_set]
            part_files = [f for f in part_files if f not in night_set]
            dedup(con, part_files)  # warm
            runs_p = [timed(dedup, con, part_files) for _ in range(args.repeat)]
            runs_a = [timed(dedup, con, all_files) for _ in range(args.repeat)]
            n_new = {r[0] for r in runs_p + runs_a}
            assert len(n_new) == 1, f"partition and full dedup disagree: {n_new}"
            expected_new = expected_new or n_new.pop()
            m["dedup_partitions_s"] = round(statistics.median(r[1] for r in runs_p), 3)
            m["dedup_all_history_s"] = round(statistics.median(r[1] for r in runs_a), 3)
            m["dedup_files_read"] = len(part_files)
            # timeline of one item, history + night, by S10 id only (row-group stats on item_id)
            full = all_files + sorted(night_set)
            sample = [r[0] for r in con.execute(
                "SELECT item_id FROM read_parquet(?) ORDER BY hash(item_id, 3) LIMIT ?",
                [full[:: max(1, len(full) // 20)], args.lookups]).fetchall()]
            timeline(con, full, sample[0])  # warm the metadata cache
            lat = [timed(timeline, con, full, it)[1] for it in sample]
            m["timeline_p50_ms"] = round(pct(lat, 0.5) * 1000, 1)
            m["timeline_p95_ms"] = round(pct(lat, 0.95) * 1000, 1)
            # worklist for one office as of the history's last day, over a 30-day window / all
            last = date.fromisoformat(all_days[-1])
            window = [f for d in day_range(last, 30) for f in
                      ((m["files_by_day"].get(d, []) if name == "hive" else []))]
            if name == "iceberg":
                window = [f for f in iceberg_files(m["tbl"], day_range(last, 30)) if f not in night_set]
            n_w, t_w = timed(worklist, con, window, "CNSZXA", last)
            n_wa, t_wa = timed(worklist, con, all_files, "CNSZXA", last)
            m["worklist_rows"], m["worklist_window_s"], m["worklist_all_s"] = n_w, round(t_w, 3), round(t_wa, 3)
            m["worklist_rows_all_history"] = n_wa
    R["night"]["new_events"] = expected_new
    R["night"]["duplicates"] = n_night - expected_new

    # ---- snapshot isolation while an append + compaction of one day run
    R["isolation"] = {"hive": hive_isolation(con, work, B["long"], night_days, args),
                      "iceberg": iceberg_isolation(con, A["long"]["tbl"], night_days, args)}
    for L in (A, B):
        for m in L.values():
            m.pop("tbl", None)
            m.pop("files_by_day", None)
    R["hive"], R["iceberg"] = B, A
    for name, L in (("hive", B), ("iceberg", A)):
        L["ratios_long_over_short"] = {
            k: round(L["long"][k] / L["short"][k], 2) for k in
            ("append_night_s", "dedup_partitions_s", "dedup_all_history_s", "timeline_p95_ms",
             "worklist_window_s") if L["short"].get(k)}
    return R


def reader_loop(files: list[str], stop: threading.Event, seen: list) -> None:
    con = duckdb.connect()
    con.execute("SET threads = 1")
    while not stop.is_set():
        try:
            seen.append(con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0])
        except Exception as e:  # a file of the held snapshot vanished: isolation broken
            seen.append(repr(e))
        time.sleep(0.05)


def late_batch(con, day: str, n: int):
    return con.execute(f"""SELECT {COLUMNS} FROM temp.night WHERE day = ?::DATE
                           ORDER BY hash(item_id, line, 11) LIMIT ?""", [day, n]).to_arrow_table()


def hive_isolation(con, work: Path, m: dict, night_days: list[str], args) -> dict:
    root = work / "hive_long"
    manifest = root / "manifest.json"
    day = night_days[0]  # a day whose partition has several small files (late events)
    held = json.loads(manifest.read_text())["days"][day]
    seen: list = []
    stop = threading.Event()
    th = threading.Thread(target=reader_loop, args=(held, stop, seen))
    th.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    # append late events for that day (with their `day` for PARTITION_BY), then compact it
    late = late_batch(con, day, 20000)
    con.register("late_arrow", late)
    con.execute("CREATE OR REPLACE TEMP TABLE late AS SELECT *, event_utc::DATE AS day FROM late_arrow")
    before = set(hive_files(root / "events").get(day, []))
    write_hive(con, root / "events", "temp.late")
    files = json.loads(manifest.read_text())["days"]
    files[day] = held + sorted(set(hive_files(root / "events").get(day, [])) - before)
    write_manifest(manifest, files, 3)
    t_append = time.perf_counter() - t0
    t1 = time.perf_counter()
    compacted = root / "compacted" / f"day={day}" / "c_v4.parquet"
    compacted.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT {COLUMNS} FROM read_parquet(?) ORDER BY item_id, event_utc) TO ? "
                "(FORMAT parquet, COMPRESSION zstd)", [files[day], str(compacted)])
    old = files[day]
    files[day] = [str(compacted)]
    write_manifest(manifest, files, 4)  # old files stay until no kept publication lists them
    t_compact = time.perf_counter() - t1
    time.sleep(0.3)
    stop.set()
    th.join()
    after = con.execute("SELECT count(*) FROM read_parquet(?)", [files[day]]).fetchone()[0]
    return {"reader_reads": len(seen), "reader_distinct_results": sorted(set(map(str, seen))),
            "append_late_s": round(t_append, 3), "compact_day_s": round(t_compact, 3),
            "files_before_compaction": len(old), "rows_after": after}


def iceberg_isolation(con, tbl, night_days: list[str], args) -> dict:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    day = night_days[0]
    snap = tbl.current_snapshot().snapshot_id
    held = iceberg_files(tbl, [day], snapshot_id=snap)
    seen: list = []
    stop = threading.Event()
    th = threading.Thread(target=reader_loop, args=(held, stop, seen))
    th.start()
    time.sleep(0.3)
    (_, t_append) = timed(tbl.append, late_batch(con, day, 20000))
    cur = iceberg_files(tbl, [day])
    t1 = time.perf_counter()
    day_data = con.execute(f"SELECT {COLUMNS} FROM read_parquet(?) WHERE event_utc::DATE = ?::DATE "
                           "ORDER BY item_id, event_utc", [cur, day]).to_arrow_table()
    flt = And(GreaterThanOrEqual("event_utc", f"{day}T00:00:00"),
              LessThan("event_utc", f"{date.fromisoformat(day) + timedelta(days=1)}T00:00:00"))
    tbl.overwrite(day_data, overwrite_filter=flt)  # compaction: the day's files rewritten as one
    t_compact = time.perf_counter() - t1
    time.sleep(0.3)
    stop.set()
    th.join()
    now_files = iceberg_files(tbl, [day])
    after = con.execute("SELECT count(*) FROM read_parquet(?) WHERE event_utc::DATE = ?::DATE",
                        [now_files, day]).fetchone()[0]
    held_again = len(iceberg_files(tbl, [day], snapshot_id=snap))
    return {"reader_reads": len(seen), "reader_distinct_results": sorted(set(map(str, seen))),
            "append_late_s": round(t_append, 3), "compact_day_s": round(t_compact, 3),
            "files_before_compaction": len(cur), "files_after": len(now_files), "rows_after": after,
            "old_snapshot_still_plans_files": held_again, "snapshots": len(tbl.snapshots())}


# ---------------------------------------------------------------------------------------------
# dbt: a toy project of 15 one-SELECT models

def dbt_project(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "models" / "staging").mkdir(parents=True)
    (root / "models" / "core").mkdir()
    (root / "models" / "mart").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: spike\nversion: '1.0'\nprofile: spike\nconfig-version: 2\n"
        "models:\n  spike:\n    +persist_docs: {relation: true, columns: true}\n"
        "    staging: {+materialized: view, +schema: staging}\n"
        "    core: {+materialized: table, +schema: core}\n"
        "    mart: {+materialized: table, +schema: mart}\n")
    (root / "profiles.yml").write_text(
        "spike:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'spike.duckdb'}\n      threads: 1\n")
    sql = {"staging/stg_events": "SELECT range AS id, range % 20 AS office, range % 7 AS day FROM range(10000)",
           "staging/stg_reports": "SELECT range AS office, range * 3 AS items FROM range(20)",
           "staging/stg_offices": "SELECT range AS office, 'O' || range AS name FROM range(20)"}
    for i in range(6):
        src = "stg_events" if i == 0 else f"core_{i - 1}"
        sql[f"core/core_{i}"] = f"SELECT id, office, day FROM {{{{ ref('{src}') }}}} WHERE id % {i + 2} <> 1"
    for i in range(5):
        sql[f"mart/mart_{i}"] = (f"SELECT o.name, c.day, count(*) AS n FROM {{{{ ref('core_{i + 1}') }}}} c "
                                 "JOIN {{ ref('stg_offices') }} o USING (office) GROUP BY ALL")
    sql["mart/mart_incremental"] = (
        "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='day') }}\n"
        "SELECT day, count(*) AS n FROM {{ ref('core_5') }}\n"
        "{% if is_incremental() %} WHERE day >= (SELECT max(day) - 1 FROM {{ this }}) {% endif %}\n"
        "GROUP BY day")
    docs = ["version: 2", "models:"]
    for name, body in sql.items():
        (root / "models" / f"{name}.sql").write_text(body + "\n")
        docs.append(f"  - name: {name.split('/')[1]}\n    description: 'model {name}'")
    (root / "models" / "schema.yml").write_text("\n".join(docs) + "\n")


def run_dbt(args) -> dict:
    from dbt.cli.main import dbtRunner

    root = Path(args.work) / "dbt_toy"
    dbt_project(root)
    common = ["--project-dir", str(root), "--profiles-dir", str(root), "--quiet"]
    out: dict = {"models": len(list((root / "models").rglob("*.sql")))}
    # a fresh process pays the import too (before this process opens the DuckDB file: dbt-duckdb
    # keeps it open after invoke(), so another process cannot run dbt on it meanwhile)
    import subprocess
    import sys

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from dbt.cli.main import dbtRunner, cli; import sys;"
                    "r = dbtRunner().invoke(sys.argv[1:]); sys.exit(0 if r.success else 1)",
                    "run", *common], check=True)
    out["cold_process_run_s"] = round(time.perf_counter() - t0, 2)
    shutil.rmtree(root / "target")  # the in-process first run parses from scratch
    runner = dbtRunner()
    for label in ("first_run_s", "second_run_s", "third_run_s"):
        res, t = timed(runner.invoke, ["run", *common])
        assert res.success, res.exception
        out[label] = round(t, 2)
    # what one Airflow task per model pays: a dbt invocation selecting one model (warm process)
    per_model = []
    for name in ("stg_events", "core_0", "core_3", "mart_0", "mart_incremental"):
        res, t = timed(runner.invoke, ["run", "--select", name, *common])
        assert res.success, res.exception
        per_model.append(t)
    out["one_model_invocation_s_median"] = round(statistics.median(per_model), 2)
    res, t = timed(runner.invoke, ["docs", "generate", *common])
    assert res.success, res.exception
    out["docs_generate_s"] = round(t, 2)
    index = (root / "target" / "index.html").read_text(encoding="utf-8")
    import re

    out["docs_index_bytes"] = len(index)
    out["docs_external_urls"] = sorted(set(re.findall(r"(?:src|href)=[\"'](https?://[^\"']+)", index)))[:10]
    out["docs_fetch_calls"] = sorted(set(re.findall(r"fetch\([\"'`]?([^)\"'`]{0,60})", index)))[:10]
    # dbt-duckdb keeps its read-write connection open in this process after invoke(): a
    # read_only connect here fails ("different configuration"); read the comment from another
    import subprocess
    import sys

    out["persisted_comment"] = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
         ".execute(\"SELECT comment FROM duckdb_tables() WHERE table_name = 'mart_0'\").fetchone()[0])",
         str(root / "spike.duckdb")], capture_output=True, text=True).stdout.strip()
    return out


COSMOS_DAG = """
import os
from datetime import datetime
from pathlib import Path
from airflow.sdk import DAG
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode

root = Path(os.environ["SPIKE_DBT_PROJECT"])
with DAG("spike_cosmos", start_date=datetime(2026, 1, 1), schedule=None, max_active_tasks=1):
    DbtTaskGroup(
        group_id="transforms",
        project_config=ProjectConfig(root, manifest_path=root / "target" / "manifest.json"
                                     if os.environ["SPIKE_LOAD_MODE"] == "DBT_MANIFEST" else None),
        profile_config=ProfileConfig(profile_name="spike", target_name="dev",
                                     profiles_yml_filepath=root / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode[os.environ["SPIKE_LOAD_MODE"]]),
    )
"""


def run_cosmos(args) -> dict:
    """DAG parse time of the toy project rendered by Cosmos (needs apache-airflow + cosmos)."""
    import subprocess
    import sys

    root = Path(args.work) / "dbt_toy"
    dags = Path(args.work) / "cosmos_dags"
    dags.mkdir(parents=True, exist_ok=True)
    (dags / "spike_cosmos.py").write_text(COSMOS_DAG)
    out = {}
    for mode in ("DBT_MANIFEST", "DBT_LS"):
        env = dict(os.environ, SPIKE_DBT_PROJECT=str(root), SPIKE_LOAD_MODE=mode,
                   AIRFLOW_HOME=str(Path(args.work) / "airflow_home"),
                   AIRFLOW__CORE__LOAD_EXAMPLES="False")
        code = ("import time, sys; t0 = time.perf_counter();"
                "from airflow.models.dagbag import DagBag;"
                f"b = DagBag(dag_folder={str(dags)!r});"
                "t = time.perf_counter() - t0; d = b.dags.get('spike_cosmos');"
                "print(round(t, 2), len(d.tasks) if d else repr(b.import_errors))")
        times = []
        for _ in range(3):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if r.returncode:
                return {"error": r.stderr[-2000:]}
            line = r.stdout.strip().splitlines()[-1]
            times.append(float(line.split()[0]))
            out[f"{mode}_tasks"] = line.split(maxsplit=1)[1]
        out[f"{mode}_dagbag_parse_s"] = times
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/spike/work")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--short", type=int, default=7)
    ap.add_argument("--events", type=int, default=2_000_000, help="events a day")
    ap.add_argument("--dups", type=int, default=50_000, help="re-sent copies per earlier day")
    ap.add_argument("--lookups", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", default="4GB")
    ap.add_argument("--dbt", action="store_true", help="also measure the toy dbt project")
    ap.add_argument("--dbt-only", action="store_true")
    ap.add_argument("--cosmos", action="store_true", help="with --dbt: Cosmos DAG parse time")
    ap.add_argument("--out", default=None, help="JSON results (default WORK/spike_history.json)")
    args = ap.parse_args()
    R: dict = {"run_at": datetime.now().isoformat(timespec="seconds"), "duckdb": duckdb.__version__,
               "args": vars(args)}
    if not args.dbt_only:
        R["history"] = run_history(args)
    if args.dbt or args.dbt_only:
        R["dbt"] = run_dbt(args)
        if args.cosmos:
            R["cosmos"] = run_cosmos(args)
    out = Path(args.out or Path(args.work) / "spike_history.json")
    out.write_text(json.dumps(R, indent=2, default=str))
    print(json.dumps(R, indent=2, default=str))


if __name__ == "__main__":
    main()
