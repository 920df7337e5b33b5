"""Measuring helpers: machine description, child processes with peak RSS, the DuckDB floor,
dashboard query latency."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": cpu,
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "platform": platform.platform()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_child(args: list[str], interval: float = 0.05) -> dict:
    """Run `python -m <args>`; sample the RSS of its process tree; returns seconds and peaks."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = ru0.ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", *args])
    peak = {"tree": 0}
    stop = threading.Event()

    def sample():
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            total = 0
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak["tree"] = max(peak["tree"], total)
            stop.wait(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = proc.wait()
    stop.set()
    th.join()
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = ru1.ru_maxrss
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if rc != 0:
        raise RuntimeError(f"child {' '.join(args)} exited {rc}")
    return {"seconds": round(seconds, 3), "cpu_s": round(cpu, 2), "peak_rss_tree_mb": round(peak["tree"] / 2**20, 1),
            # largest single child so far (kB on Linux); only meaningful when it grew in this call
            "maxrss_children_mb": round(max(after, before) / 1024, 1)}


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# The feed's fields with the types the pipeline gives them; event_time stays text (the files
# carry three notations and a few impossible times that a TIMESTAMP column would reject).
EVENT_COLUMNS = ("{'item_id': 'VARCHAR', 'event_code': 'VARCHAR', 'event_time': 'VARCHAR', "
                 "'office_code': 'VARCHAR', 'next_office_code': 'VARCHAR', 'mail_class': 'VARCHAR', "
                 "'origin_country': 'VARCHAR', 'destination_country': 'VARCHAR', 'weight_g': 'DOUBLE', "
                 "'retention_code': 'VARCHAR', 'reason_code': 'VARCHAR', 'action_code': 'VARCHAR'}")


def floor(landing: Path, day: str, db_path: Path, memory_limit: str, threads: int) -> dict:
    """DuckDB alone: the day's event files into one table (read_json / read_csv), and every
    report read with read_csv (xlsx and files read_csv cannot decode are counted, not read)."""
    if db_path.exists():
        db_path.unlink()
    con = duckdb.connect(str(db_path))
    con.execute(f"SET memory_limit = '{memory_limit}'; SET threads = {threads}; "
                "SET enable_progress_bar = false")
    ev = sorted((landing / "item_events" / day).iterdir())
    jsonl = [str(p) for p in ev if ".jsonl" in p.name and "resend" not in p.name and not p.name.endswith(".part")]
    csv = [str(p) for p in ev if ".csv" in p.name and not p.name.endswith(".part")]
    out = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    parts = []
    if jsonl:
        parts.append(f"SELECT * FROM read_json([{', '.join(map(_q, jsonl))}], format = 'newline_delimited', "
                     f"columns = {EVENT_COLUMNS})")
    if csv:
        parts.append(f"SELECT * FROM read_csv([{', '.join(map(_q, csv))}], header = true, "
                     f"columns = {EVENT_COLUMNS})")
    con.execute("CREATE TABLE events AS " + " UNION ALL BY NAME ".join(parts))
    con.execute("CHECKPOINT")
    out["events_s"] = round(time.perf_counter() - t0, 3)
    out["events_rows"] = con.execute("SELECT count(*) FROM events").fetchone()[0]
    out["event_files"] = len(jsonl) + len(csv)
    t0 = time.perf_counter()
    read, skipped = 0, []
    for feed in ("exchange_office", "customs_centre"):
        for p in sorted((landing / feed / day).iterdir()):
            if p.suffix != ".csv":
                skipped.append(p.name)
                continue
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE r AS SELECT * FROM read_csv({_q(str(p))}, all_varchar = true)")
                read += 1
            except duckdb.Error:
                skipped.append(p.name)
    out["reports_s"] = round(time.perf_counter() - t0, 3)
    out["reports_read"], out["reports_skipped"] = read, len(skipped)
    out["total_s"] = round(out["events_s"] + out["reports_s"], 3)
    out["cpu_s"] = round(time.process_time() - c0, 2)  # DuckDB's threads count here
    con.close()
    return out


# Dashboard marts: (site column or None, time column, kind of time column). The site is the mart's
# busiest one; the month is the latest month in the mart.
DASHBOARD = {
    "office_daily": ("office_code", "report_date", "date"),
    "centre_daily": ("centre_code", "report_date", "date"),
    "customs_dwell_daily": ("office_code", "release_date", "date"),
    "reconciliation_daily": ("office_code", "report_date", "date"),
    "capacity_outlook": ("office_code", "as_of_date", "date"),
    "alerts": ("office_code", "as_of_date", "date"),
    "national_daily": (None, "report_date", "date"),
    "lane_weekly": ("origin_office", "iso_week", "iso_week"),
    "destination_monthly": ("destination_country", "month", "month"),
}


def _month_filter(when: str, kind: str) -> tuple[str, str]:
    """(SQL condition on ?-month, SQL giving the latest month of the mart as a DATE)."""
    if kind == "date":
        return (f'"{when}" >= ?::DATE AND "{when}" < ?::DATE + INTERVAL 1 MONTH',
                f'date_trunc(\'month\', max("{when}"))::DATE')
    if kind == "iso_week":  # weeks that have a day in the month
        return (f'"{when}" IN (SELECT DISTINCT strftime(d, \'%G-W%V\') FROM range(?::DATE, '
                f'?::DATE + INTERVAL 1 MONTH, INTERVAL 1 DAY) t(d))',
                # Jan 4 is in ISO week 1; + 7 (w - 1) days lands in week w
                f'date_trunc(\'month\', max(strptime(left("{when}", 4) || \'-01-04\', \'%Y-%m-%d\')::DATE '
                f'+ 7 * (right("{when}", 2)::INT - 1)))::DATE')
    return (f'"{when}" = strftime(?::DATE, \'%Y-%m\') AND ?::DATE IS NOT NULL',
            f'max(strptime("{when}" || \'-01\', \'%Y-%m-%d\'))::DATE')


def dashboard_queries(warehouse: Path, reps: int) -> dict:
    """Each dashboard mart filtered by one site (office, centre, origin office or destination)
    and one month, `reps` times on one read-only connection; median and p95 in ms."""
    con = duckdb.connect(str(warehouse), read_only=True)
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'mart'").fetchall()}
    out = {}
    for t, (site, when, kind) in DASHBOARD.items():
        if t not in have:
            continue
        cond, latest = _month_filter(when, kind)
        month = con.execute(f'SELECT {latest} FROM mart."{t}"').fetchone()[0]
        if month is None:
            continue
        args = [month, month]
        if site:
            site_v = con.execute(f'SELECT "{site}" FROM mart."{t}" GROUP BY 1 ORDER BY count(*) DESC, 1 '
                                 'LIMIT 1').fetchone()[0]
            cond = f'"{site}" = ? AND ' + cond
            args = [site_v] + args
        sql = f'SELECT * FROM mart."{t}" WHERE {cond} ORDER BY ALL'
        lat, n = [], 0
        for _ in range(reps):
            t0 = time.perf_counter()
            n = len(con.execute(sql, args).fetchall())
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        out[t] = {"rows": n, "filter": [str(x) for x in args[:-1]], "median_ms": round(statistics.median(lat), 2),
                  "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2)}
    con.close()
    return out


def dump(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
