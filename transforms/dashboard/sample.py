"""Sample published warehouses (schema ``mart``) for the dashboard's tests and its preview.

``make_pipeline_warehouse(path, days=30)``: a warehouse the REAL pipeline published. A tiny seeded
demo landing zone (``transforms.demo.generate``) is run through ``transforms.pipeline.run_night``
for its last day (one night catches up every earlier day), once per set of parameters and per
version of the pipeline's code: the published ``warehouse.duckdb`` is cached in a folder under
the system temp dir, and each call copies it to ``path``, where ``omit`` drops tables and
``empty`` deletes their rows. The default 30 days end on 2026-03-01 (2026-01-31 .. 03-01), so
the daily tables span three calendar months: with a small inline window (``max_days=1``) the
page has two older months to load on demand (30 days is the fewest that span three months).
One build is ~25 s of fixed cost (dbt, GX) plus ~1 s a day, mostly ingest of ~33 small files a
day whatever the scale: 30 days measured 59-61 s (generate 2 s, run_night 57-60 s, ~40 s of CPU)
on the two-core machine shared with another test run (load average 4-6).

``make_sample_warehouse(path, days=..., omit=..., empty=...)``: a SYNTHETIC warehouse, NOT produced
by the pipeline: it follows the column contract (its DDL is the published catalogue's, from
dbt/models/mart/_mart.yml) with plausible, deterministic (seeded) invented rows. It remains for
the one test that needs long histories, tests/test_dashboard.py::test_inline_size_is_bounded_by_the_window
(100 and 300 days: the inline page must not grow with the history). A real run of 100 and
300 days would cost about 2 and 6 minutes (ingest grows by ~1 s a day) for one assertion about
the page's size, and a shorter real history cannot show that three times the history adds
period files only. ``test_sample_warehouse_has_the_published_schema`` keeps the generator
honest against the catalogue.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import random
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable

import duckdb

from transforms.catalog import table_statements
from transforms.db import quote_ident

OFFICES = [
    # code, type, name_zh, name_en, province, city, cap_in, cap_out
    ("CNBJSA", "exchange_office", "北京互换局", "Beijing", "北京", "北京", 60000, 50000),
    ("CNSHAA", "exchange_office", "上海互换局", "Shanghai", "上海", "上海", 90000, 80000),
    ("CNCANA", "exchange_office", "广州互换局", "Guangzhou", "广东", "广州", 80000, 95000),
    ("CNURCA", "exchange_station", "乌鲁木齐交换站", "Urumqi", "新疆", "乌鲁木齐", 20000, 30000),
    ("HZKJ01", "express_supervision_centre", "杭州快件监管中心", "Hangzhou express centre",
     "浙江", "杭州", 15000, 25000),
    ("SZKJ02", "express_supervision_centre", "深圳快件监管中心", "Shenzhen express centre",
     "广东", "深圳", 20000, 30000),
]
EXCHANGE = [o for o in OFFICES if o[1] != "express_supervision_centre"]
CENTRES = [o for o in OFFICES if o[1] == "express_supervision_centre"]
REGIMES = ["9610", "9710", "9810", "1210", "KJ-B"]
COUNTRIES = ["US", "GB", "DE", "RU", "KZ", "JP", "BR", "FR"]

# The columns each sample row fills, in order; the tables' DDL (types, comments) is the published
# catalogue's (dbt/models/mart/_mart.yml), so the sample cannot drift from it. Unfilled columns are NULL.
SAMPLE_COLUMNS = {
    "offices": ("office_code", "office_type", "name_zh", "name_en", "province", "city", "tz",
        "capacity_in_per_day", "capacity_out_per_day", "valid_from", "valid_to"),
    "office_daily": ("office_code", "report_date", "direction", "items_received", "items_dispatched",
        "items_presented", "items_released", "items_inspected", "items_held", "items_returned",
        "backlog_close", "capacity_per_day", "load_factor", "utilization", "release_rate",
        "inspection_rate", "hold_rate", "backlog_days", "reported"),
    "customs_dwell_daily": ("office_code", "release_date", "direction", "n_released", "dwell_mean_h", "dwell_p50_h",
        "dwell_p90_h", "dwell_p95_h", "dwell_max_h", "share_within_24h", "n_retained",
        "in_customs_close"),
    "centre_daily": ("centre_code", "report_date", "direction", "regime", "declarations_lodged",
        "declarations_released", "declarations_inspected", "declarations_held",
        "declarations_rejected", "items_declared", "declared_value_cny", "pending_close",
        "release_rate", "inspection_rate", "mean_release_h", "load_factor"),
    "lane_weekly": ("origin_office", "destination_country", "iso_week", "items_dispatched", "items_arrived",
        "leg_p50_days", "leg_p90_days"),
    "destination_monthly": ("destination_country", "month", "items_dispatched", "share", "growth_mom", "growth_yoy"),
    "capacity_outlook": ("office_code", "direction", "as_of_date", "mean_28d", "p95_28d", "capacity_per_day",
        "headroom", "growth_monthly", "breach_date"),
    "national_daily": ("report_date", "direction", "items_received", "items_dispatched", "capacity_per_day",
        "utilization", "offices_reporting", "offices_expected", "n_released", "dwell_p50_h",
        "share_within_24h"),
    "office_stay_daily": ("scope", "office_code", "departure_date", "direction", "n_items",
        "to_customs_p50_h", "customs_p50_h", "after_release_p50_h", "stay_n", "stay_p50_h", "stay_p90_h",
        "stay_share_within_48h"),
    "alerts": ("as_of_date", "severity", "office_code", "kind", "value", "threshold", "message_zh",
        "message_en", "direction", "state", "first_fired"),
    "load_ledger": ("file_id", "path", "feed", "report_date", "content_hash", "status", "rows_read",
        "rows_loaded", "rows_quarantined", "rows_duplicate", "first_seen_at", "loaded_at"),
    "quarantine": ("feed", "path", "line", "rule", "detail", "raw", "run_date"),
    "quality_daily": ("feed", "report_date", "check_name", "expectation", "severity", "success", "observed_value",
        "offices_missing"),
}


def _ratio(a, b):
    return None if a is None or not b else a / b


def _quantile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def make_sample_warehouse(
    path: Path, days: int = 30, end: date = date(2026, 3, 1), seed: int = 7,
    omit: Iterable[str] = (), empty: Iterable[str] = (),
) -> Path:
    """Write a synthetic published warehouse to ``path`` (replaced if it exists).

    ``omit``: mart tables not created at all; ``empty``: tables created with no rows.
    """
    rnd = random.Random(seed)
    omit, empty = set(omit), set(empty)
    path = Path(path)
    if path.exists():
        path.unlink()
    dates = [end - timedelta(days=days - 1 - i) for i in range(days)]
    rows: dict[str, list[tuple]] = {k: [] for k in SAMPLE_COLUMNS}

    for o in OFFICES:
        rows["offices"].append((o[0], o[1], o[2], o[3], o[4], o[5], "Asia/Shanghai", o[6], o[7],
                                date(2020, 1, 1), None))

    # --- office_daily (exchange offices + centres as lodged declarations) ---------------------
    missing = {("CNURCA", dates[-3]), ("CNBJSA", dates[min(10, days // 2)]), ("CNURCA", dates[-1])}
    history: dict[tuple[str, str], list[int]] = {}
    for code, otype, *_rest, cap_in, cap_out in OFFICES:
        dirs = ["inbound", "outbound"] + (["transit"] if code == "CNSHAA" else [])
        for d_i, d in enumerate(dates):
            for direction in dirs:
                cap = cap_out if direction == "outbound" else cap_in
                if direction == "transit":
                    cap = cap_in // 10
                if (code, d) in missing:
                    rows["office_daily"].append((code, d, direction) + (None,) * 8 + (cap,)
                                                + (None,) * 6 + (False,))
                    continue
                trend = 0.55 + 0.45 * d_i / days if code in ("CNCANA", "SZKJ02") else 0.7
                weekly = 1.0 - (0.18 if d.weekday() >= 5 else 0.0)
                recv = int(cap * trend * weekly * rnd.uniform(0.85, 1.12))
                disp = int(recv * rnd.uniform(0.93, 1.02))
                pres = int(recv * 0.8)
                rel = int(pres * rnd.uniform(0.9, 0.99))
                insp = int(pres * rnd.uniform(0.02, 0.06))
                held = int(insp * 0.2)
                ret = int(held * 0.3)
                backlog = max(recv - disp, 0) + int(cap * 0.05)
                history.setdefault((code, direction), []).append(disp)
                last7 = history[(code, direction)][-7:]
                rows["office_daily"].append((
                    code, d, direction, recv, disp, pres, rel, insp, held, ret, backlog, cap,
                    _ratio(recv, cap), _ratio(disp, cap), _ratio(rel, pres), _ratio(insp, pres),
                    _ratio(held, pres), _ratio(backlog, sum(last7) / len(last7)), True))

    # --- customs_dwell_daily -----------------------------------------------------------------
    for code, *_r in EXCHANGE:
        base = {"CNBJSA": 14, "CNSHAA": 10, "CNCANA": 20, "CNURCA": 30}[code]
        for d_i, d in enumerate(dates):
            if (code, d) in missing:
                continue
            for direction in ("inbound", "outbound"):
                n = rnd.randint(800, 5000)
                drift = 1 + 0.3 * math.sin(d_i / 5)
                p50 = base * drift * (0.7 if direction == "outbound" else 1)
                p90 = p50 * rnd.uniform(2.2, 3.2)
                rows["customs_dwell_daily"].append((
                    code, d, direction, n, p50 * 1.3, p50, p90, p90 * 1.15, p90 * 2.5,
                    min(1.0, max(0.0, 1.02 - p50 / 60 - rnd.uniform(0, 0.12))),
                    int(n * 0.03), int(n * 0.4)))

    # --- centre_daily ------------------------------------------------------------------------
    for code, _t, *_r, cap_in, cap_out in CENTRES:
        for d_i, d in enumerate(dates):
            for direction in ("inbound", "outbound"):
                cap = cap_out if direction == "outbound" else cap_in
                lodged = {rg: int(cap * rnd.uniform(0.03, 0.3)) for rg in REGIMES}
                total = sum(lodged.values())
                for rg, lo in lodged.items():
                    rel = int(lo * rnd.uniform(0.85, 0.99))
                    insp = int(lo * rnd.uniform(0.01, 0.05))
                    hours = rel * rnd.uniform(2, 20)
                    rows["centre_daily"].append((
                        code, d, direction, rg, lo, rel, insp, insp // 4, insp // 10,
                        lo * rnd.randint(1, 3), lo * rnd.uniform(80, 400), lo - rel,
                        _ratio(rel, lo), _ratio(insp, lo), _ratio(hours, rel),
                        _ratio(total, cap)))

    # --- lane_weekly -------------------------------------------------------------------------
    weeks = sorted({f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in dates})
    for code, *_r in EXCHANGE:
        for country in COUNTRIES[: rnd.randint(4, 7)]:
            size = rnd.randint(2000, 40000)
            for w_i, w in enumerate(weeks):
                disp = int(size * (1 + 0.05 * w_i) * rnd.uniform(0.8, 1.2))
                arrived = int(disp * (0.95 if w_i < len(weeks) - 2 else 0.4))
                p50 = rnd.uniform(3, 9) + (4 if country in ("BR", "US") else 0)
                rows["lane_weekly"].append((code, country, w, disp, arrived, p50,
                                            p50 * rnd.uniform(1.5, 2.2)))

    # --- destination_monthly (14 months so growth_yoy exists for the last two) -------------
    months = []
    y, m = end.year, end.month
    for _ in range(14):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    months.reverse()
    vol = {(c, mo): int(rnd.randint(50_000, 900_000) * (1 + 0.02 * i))
           for c in COUNTRIES for i, mo in enumerate(months)}
    for i, mo in enumerate(months):
        tot = sum(vol[(c, mo)] for c in COUNTRIES)
        for c in COUNTRIES:
            v = vol[(c, mo)]
            mom = v / vol[(c, months[i - 1])] - 1 if i >= 1 else None
            yoy = v / vol[(c, months[i - 12])] - 1 if i >= 12 else None
            rows["destination_monthly"].append((c, mo, v, v / tot, mom, yoy))

    # --- capacity_outlook --------------------------------------------------------------------
    for (code, direction), _h in history.items():
        office = next(o for o in OFFICES if o[0] == code)
        cap = office[7] if direction == "outbound" else office[6]
        if direction == "transit":
            cap = office[6] // 10
        recvs = [r[3] for r in rows["office_daily"]
                 if r[0] == code and r[2] == direction and r[18]]
        for d_i, d in enumerate(dates):
            window = recvs[max(0, d_i - 27): d_i + 1] or recvs[:1]
            mean = sum(window) / len(window)
            p95 = _quantile(window, 0.95)
            growth = 0.12 if code in ("CNCANA", "SZKJ02") else (-0.01 if code == "CNURCA" else 0.02)
            breach = None
            if growth > 0:
                if mean >= 0.85 * cap:
                    breach = d
                else:
                    days_to = 30 * math.log(0.85 * cap / mean) / math.log(1 + growth)
                    if days_to <= 730:
                        breach = d + timedelta(days=math.ceil(days_to))
            rows["capacity_outlook"].append((code, direction, d, mean, p95, cap, 1 - p95 / cap,
                                             growth if d_i >= 27 else None,
                                             breach if d_i >= 27 else None))

    # --- national_daily ----------------------------------------------------------------------
    exch_codes = {o[0] for o in EXCHANGE}
    for d in dates:
        for direction in ("inbound", "outbound", "transit"):
            od = [r for r in rows["office_daily"]
                  if r[1] == d and r[2] == direction and r[0] in exch_codes]
            rep = [r for r in od if r[18]]
            if not od:
                continue
            recv = sum(r[3] for r in rep)
            disp = sum(r[4] for r in rep)
            cap = sum(r[11] for r in rep)
            dw = [r for r in rows["customs_dwell_daily"] if r[1] == d and r[2] == direction]
            n = sum(r[3] for r in dw)
            p50 = _ratio(sum(r[5] * r[3] for r in dw), n)
            s24 = _ratio(sum(r[9] * r[3] for r in dw), n)
            rows["national_daily"].append((d, direction, recv, disp, cap, _ratio(disp, cap),
                                           len(rep), len(od), n or None, p50, s24))

    # --- office_stay_daily: steps per office (each office has its own bottleneck) -----------
    steps = {"CNBJSA": (3, 14, 5), "CNSHAA": (2, 8, 12), "CNCANA": (10, 6, 4), "CNURCA": (6, 30, 8)}
    for d_i, d in enumerate(dates):
        for direction in ("inbound", "outbound"):
            nat = []
            for code, *_r in EXCHANGE:
                if (code, d) in missing:
                    continue
                n = rnd.randint(500, 4000)
                drift = 1 + 0.25 * math.sin(d_i / 4 + len(code))
                wait, cus, after = (x * drift * rnd.uniform(0.85, 1.15) for x in steps[code])
                p50 = wait + cus + after
                p90 = p50 * rnd.uniform(1.8, 2.6)
                nat.append((n, p50, p90))
                rows["office_stay_daily"].append(("office", code, d, direction, n, wait, cus, after,
                                                  int(n * 0.97), p50, p90, min(1.0, 60 / p90)))
            n = sum(x[0] for x in nat)
            rows["office_stay_daily"].append((
                "national", None, d, direction, n, None, None, None, int(n * 0.97),
                sum(x[0] * x[1] for x in nat) / n, max(x[2] for x in nat), None))

    # --- alerts ------------------------------------------------------------------------------
    last = dates[-1]
    rows["alerts"] += [
        (last, "warning", "CNCANA", "utilization_high", 0.91, 0.85,
         "广州互换局出境利用率 91%，高于 85%", "CNCANA outbound utilization 91% above 85%",
         "outbound", "new", last),
        (last, "critical", "CNURCA", "office_missing", None, None,
         "乌鲁木齐交换站未报送", "CNURCA did not report", None, "escalated", dates[-3]),
        (last, "warning", None, "file_quarantined", 1, 0,
         "1 个文件被隔离", "1 file quarantined", None, "new", last),
        (last, "info", "CNBJSA", "customs_slow", None, 0.8,
         "已解除：CNBJSA inbound 24 小时内通关比例低于 80%", "resolved: CNBJSA inbound below 80% within 24 h",
         "inbound", "resolved", dates[-5]),
        (last, "warning", "CNSHAA", "capacity_breach", 120, 180, "CNSHAA inbound：预计 120 天后达到 85% 产能",
         "CNSHAA inbound: projected to reach 85% of capacity in 120 days", "inbound", "continuing", dates[0]),
        (last, "warning", "CNCANA", "capacity_breach", 90, 180, "CNCANA outbound：预计 90 天后达到 85% 产能",
         "CNCANA outbound: projected to reach 85% of capacity in 90 days", "outbound", "continuing", dates[2]),
    ]

    # --- load_ledger, quarantine, quality_daily ----------------------------------------------
    fid = 0
    for d in dates:
        for code, otype, *_r in OFFICES:
            feed = "customs_centre" if otype == "express_supervision_centre" else "exchange_office"
            if (code, d) in missing:
                continue
            fid += 1
            status = "loaded"
            q = 0
            if rnd.random() < 0.08:
                q = rnd.randint(1, 6)
            if code == "CNSHAA" and d == dates[-2]:
                status = "quarantined"
            t = datetime.combine(d + timedelta(days=1), datetime.min.time()) + timedelta(hours=2)
            rows["load_ledger"].append((
                fid, f"{feed}/{d.isoformat()}/{code}.csv", feed, d, f"{fid:064x}", status,
                40, 0 if status == "quarantined" else 40 - q, 40 if status == "quarantined" else q,
                0, t, None if status == "quarantined" else t + timedelta(minutes=5)))
            if status == "quarantined":
                rows["quarantine"].append((feed, f"{feed}/{d.isoformat()}/{code}.csv", None,
                                           "total_mismatch", "total row differs from sum",
                                           None, d + timedelta(days=1)))
            for line in range(q):
                rule = rnd.choice(["negative_count", "invalid_date", "unknown_office",
                                   "s10_check_digit"])
                rows["quarantine"].append((feed, f"{feed}/{d.isoformat()}/{code}.csv",
                                           line + 3, rule, f"{rule} on line {line + 3}",
                                           f"{d},{code},inbound,U,-5,...", d + timedelta(days=1)))
        for feed in ("exchange_office", "customs_centre", "item_events"):
            miss = [c for c, dd in missing if dd == d] if feed == "exchange_office" else []
            for rule, sev in (("row_count", "error"), ("negative_count", "row"),
                              ("offices_complete", "warning")):
                ok = not (rule == "offices_complete" and miss)
                rows["quality_daily"].append((
                    feed, d, rule, f"expect_{rule}", sev, ok,
                    json.dumps({"unexpected_count": 0 if ok else len(miss)}), ",".join(miss) or None))

    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA mart")
        for table, columns in SAMPLE_COLUMNS.items():
            if table in omit:
                continue
            for stmt in table_statements(table):
                con.execute(stmt)
            if table in empty or not rows[table]:
                continue
            one = "(" + ", ".join(["?"] * len(columns)) + ")"
            data = rows[table]
            names = ", ".join(quote_ident(c) for c in columns)
            for i in range(0, len(data), 200):  # multi-row VALUES: far faster than executemany
                chunk = data[i: i + 200]
                con.execute(f"INSERT INTO mart.{table} ({names}) VALUES " + ", ".join([one] * len(chunk)),
                            [v for r in chunk for v in r])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


# ---- a warehouse the real pipeline published -------------------------------------------------

PIPELINE_END = date(2026, 3, 1)
PIPELINE_DAYS = 30
PIPELINE_SEED = 7
PIPELINE_SCALE = 0.02  # item volume; the build time is the reports' file count, not this
CACHE_DIR = Path(tempfile.gettempdir()) / "clearcap-dashboard-sample"
_CODE = Path(__file__).resolve().parents[1]  # transforms/: the demo, the pipeline, its models
_CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json", ".toml", ".txt"}
_GENERATED = {"__pycache__", "target", "logs", "dbt_packages"}
_NOT_BUILT_WITH = {"dashboard", "cli.py", "orchestration"}  # readers of the warehouse, not its build


def _code_version() -> str:
    """A hash of the code a build depends on (the demo generator, the pipeline, the dbt models,
    the expectations): a changed model gets a fresh build instead of a cached one."""
    h = hashlib.sha256()
    for p in sorted(_CODE.rglob("*")):
        rel = p.relative_to(_CODE)
        if (p.is_file() and p.suffix in _CODE_SUFFIXES and not _GENERATED & set(rel.parts[:-1])
                and rel.parts[0] not in _NOT_BUILT_WITH):
            h.update(str(rel).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def pipeline_warehouse(days: int = PIPELINE_DAYS, end: date = PIPELINE_END, seed: int = PIPELINE_SEED,
                       scale: float = PIPELINE_SCALE) -> Path:
    """The cached ``warehouse.duckdb`` the pipeline published for a demo landing zone of ``days``
    days ending ``end`` (built on first use; read-only: copy it, see make_pipeline_warehouse).
    Concurrent callers wait for one build (a lock beside the cache)."""
    key = f"pipeline-{end.isoformat()}-{days}d-seed{seed}-scale{scale:g}-{_code_version()}"
    final = CACHE_DIR / key
    published = final / "warehouse.duckdb"
    if published.is_file():
        return published
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if published.is_file():  # built by another process meanwhile
            return published
        from transforms.config import Paths
        from transforms.demo import generate
        from transforms.pipeline import run_night

        work = Path(tempfile.mkdtemp(prefix=key + ".", dir=CACHE_DIR))
        try:
            t0 = time.perf_counter()
            landing = work / "landing"
            generate(landing, start=end - timedelta(days=days - 1), days=days, seed=seed, scale=scale)
            t1 = time.perf_counter()
            report = run_night(Paths.from_args(landing, work / "build" / "warehouse.duckdb"), end)
            t2 = time.perf_counter()
            out = work / "out"
            out.mkdir()
            shutil.copyfile(work / "build" / "warehouse.duckdb", out / "warehouse.duckdb")
            (out / "build.json").write_text(json.dumps({
                "days": days, "end": end.isoformat(), "seed": seed, "scale": scale,
                "generate_s": round(t1 - t0, 1), "run_night_s": round(t2 - t1, 1),
                "steps_s": report["timings"]}, indent=1) + "\n")
            os.replace(out, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return published


def make_pipeline_warehouse(path: Path, days: int = PIPELINE_DAYS, end: date = PIPELINE_END,
                            seed: int = PIPELINE_SEED, scale: float = PIPELINE_SCALE,
                            omit: Iterable[str] = (), empty: Iterable[str] = ()) -> Path:
    """A writable copy at ``path`` (replaced if it exists) of the warehouse the real pipeline
    published for a seeded demo landing zone (see pipeline_warehouse).

    ``omit``: mart tables dropped from the copy; ``empty``: tables whose rows are deleted.
    """
    src = pipeline_warehouse(days=days, end=end, seed=seed, scale=scale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    shutil.copyfile(src, path)  # not copy(): the published file is read-only, the copy is not
    omit, empty = list(omit), list(empty)
    if omit or empty:
        con = duckdb.connect(str(path))
        try:
            for table in omit:
                con.execute(f"DROP TABLE mart.{quote_ident(table)}")
            for table in empty:
                con.execute(f"DELETE FROM mart.{quote_ident(table)}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return path
