"""An independent implementation of shared/spec/indicators.md over a landing zone (feeds.md).

Only the parsing of report files (feeds A and B: encodings, title lines, header languages, number
and date formats, xlsx) is borrowed from `transforms.readers.read_report`; the reference file and
the item events are parsed here, and every rule, selection and indicator is computed here in
plain Python / numpy / polars, without the pipeline's SQL.

Entry points: `load_landing(landing, run_of=...)` -> Inputs, `compute_marts(inputs, days)` ->
{table name: polars DataFrame with the columns of transforms/sql/mart/schema.yml}.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

EVENT_CODES = {"EMA", "EMB", "EXA", "EXB", "EXC", "EXD", "EMC", "EMJ", "EMK", "EMD", "EDA", "EDB", "EME",
               "EDC", "EMF", "EDD", "EDE", "EMG", "EDF", "EDG", "EDH", "EMH", "EMI"}
REGIMES = {"9610", "9710", "9810", "1210", "0110", "KJ-A", "KJ-B", "KJ-C"}
EO_COUNTS = ["items_received", "items_dispatched", "receptacles", "items_presented", "items_released",
             "items_inspected", "items_held", "items_returned", "backlog_close", "weight_kg"]
EO_SUMS = ["items_received", "items_dispatched", "items_presented", "items_released", "items_inspected",
           "items_held", "items_returned", "backlog_close"]
CC_COUNTS = ["declarations_lodged", "declarations_released", "declarations_inspected", "declarations_held",
             "declarations_rejected", "items_declared", "declared_value_cny", "release_hours_total",
             "pending_close"]
EXCHANGE_TYPES = ("exchange_office", "exchange_station")
CENTRE_TYPE = "express_supervision_centre"
_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})$")


# --------------------------------------------------------------------------- reference

@dataclass
class Office:
    code: str
    type: str
    tz: str
    cap_in: int | None
    cap_out: int | None
    valid_from: date
    valid_to: date | None


def read_offices(path: Path) -> list[Office]:
    out = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            def num(v):
                v = (v or "").strip().replace(",", "")
                return int(v) if v else None
            vt = (r.get("valid_to") or "").strip()
            out.append(Office(r["office_code"].strip(), r["office_type"].strip(),
                              (r.get("tz") or "").strip() or "Asia/Shanghai",
                              num(r["capacity_in_per_day"]), num(r["capacity_out_per_day"]),
                              date.fromisoformat(r["valid_from"].strip()),
                              date.fromisoformat(vt) if vt else None))
    return out


class Reference:
    def __init__(self, offices: list[Office]):
        self.rows = offices
        self.codes = {o.code for o in offices}
        by = defaultdict(list)
        for o in offices:
            by[o.code].append(o)
        self.by_code = by

    def valid(self, code: str, day: date) -> Office | None:
        for o in self.by_code.get(code, ()):
            if o.valid_from <= day and (o.valid_to is None or day <= o.valid_to):
                return o
        return None

    def tz(self, code: str) -> str | None:
        rows = self.by_code.get(code)
        if not rows:
            return None
        return max(rows, key=lambda o: o.valid_from).tz

    def capacity(self, code: str, day: date, direction: str) -> int | None:
        o = self.valid(code, day)
        if o is None:
            return None
        return o.cap_out if direction == "outbound" else o.cap_in

    def expected(self, day: date, types) -> list[str]:
        return sorted({o.code for o in self.rows if o.type in types
                       and o.valid_from <= day and (o.valid_to is None or day <= o.valid_to)})


# --------------------------------------------------------------------------- reports (A, B)

def _ready(name: str) -> bool:
    return not name.startswith(".") and not name.lower().endswith((".part", ".tmp"))


def _dated_files(landing: Path, feed: str, exts: tuple[str, ...]):
    root = landing / feed
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or not _DATED.match(folder.name):
            continue
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        for p in sorted(folder.iterdir()):
            if p.is_file() and _ready(p.name) and p.name.lower().endswith(exts):
                yield p, day


def _file_quarantined_for_totals(totals: pl.DataFrame) -> bool:
    for _c, reported, rows_sum in totals.select("column", "reported_total", "rows_sum").iter_rows():
        if reported is not None and rows_sum is not None and abs(reported - rows_sum) > 1e-6:
            return True
    return False


def _report_rows(res, feed: str, day: date, ref: Reference) -> pl.DataFrame | None:
    """Loaded rows of one report file (as read), or None when the whole file is not loaded."""
    if res.file_error is not None or _file_quarantined_for_totals(res.totals):
        return None
    rows = res.rows
    if rows.height == 0:
        return rows
    if feed == "exchange_office":
        code, keys, dirs, counts, types = "office_code", ["mail_class"], {"inbound", "outbound", "transit"}, EO_COUNTS, EXCHANGE_TYPES
    else:
        code, keys, dirs, counts, types = "centre_code", ["regime"], {"inbound", "outbound"}, CC_COUNTS, (CENTRE_TYPE,)
    keep = []
    recs = rows.to_dicts()
    for r in recs:
        ok = all(r[c] is not None for c in ("report_date", code, "direction", keys[0]))
        ok = ok and r["direction"] in dirs
        ok = ok and (r["mail_class"] in {"U", "C", "E"} if feed == "exchange_office" else r["regime"] in REGIMES)
        ok = ok and all(r.get(c) is None or r[c] >= 0 for c in counts)
        o = ref.valid(r[code], r["report_date"]) if r[code] is not None and r["report_date"] is not None else None
        ok = ok and o is not None and o.type in types
        ok = ok and r["report_date"] == day
        keep.append(ok)
    # duplicate (office, date, direction, class/regime) within the file: every copy is rejected
    seen = defaultdict(int)
    for r in recs:
        seen[(r[code], r["report_date"], r["direction"], r[keys[0]])] += 1
    keep = [k and seen[(r[code], r["report_date"], r["direction"], r[keys[0]])] == 1 for k, r in zip(keep, recs)]
    return rows.filter(pl.Series(keep))


def load_reports(landing: Path, feed: str, ref: Reference,
                 run_of: Callable[[str, date], int]) -> tuple[pl.DataFrame, set[tuple[str, date]]]:
    """Rows of the winning delivery of each site-day: latest run, then latest mtime, then path;
    and the site-days (site of a file's rows, its date folder) a file delivered rows for and
    none of them was loaded (rejected reports)."""
    from transforms.readers import read_report  # parsing only

    code = "office_code" if feed == "exchange_office" else "centre_code"
    per_file, rejected = [], set()
    for p, day in _dated_files(landing, feed, (".csv", ".xlsx")):
        res = read_report(p, feed, day)
        rows = _report_rows(res, feed, day, ref)
        sent = set(res.rows[code].drop_nulls().to_list()) if code in res.rows.columns else set()
        kept = set(rows[code].drop_nulls().to_list()) if rows is not None and rows.height else set()
        rejected |= {(site, day) for site in sent - kept}
        if rows is None or rows.height == 0:
            continue
        rel = p.relative_to(landing).as_posix()
        order = (run_of(rel, day), p.stat().st_mtime, rel)
        per_file.append((order, rel, rows))
    winner: dict[tuple, tuple] = {}
    for order, rel, rows in per_file:
        for site in rows[code].unique().to_list():
            for d in rows.filter(pl.col(code) == site)["report_date"].unique().to_list():
                k = (site, d)
                if k not in winner or order > winner[k][0]:
                    winner[k] = (order, rel)
    parts = []
    for order, rel, rows in per_file:
        mine = [k for k, v in winner.items() if v[1] == rel]
        if not mine:
            continue
        sel = pl.DataFrame({code: [k[0] for k in mine], "report_date": [k[1] for k in mine]},
                           schema={code: pl.Utf8, "report_date": pl.Date})
        parts.append(rows.join(sel, on=[code, "report_date"], how="semi").with_columns(pl.lit(rel).alias("_file")))
    if not parts:
        return pl.DataFrame(), rejected
    return pl.concat(parts, how="diagonal_relaxed"), rejected


# --------------------------------------------------------------------------- events (C)

def s10_ok(item: str) -> bool:
    if not isinstance(item, str) or not re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", item):
        return False
    s = sum(int(d) * w for d, w in zip(item[2:10], (8, 6, 4, 2, 3, 5, 9, 7)))
    c = 11 - s % 11
    c = 0 if c == 10 else 5 if c == 11 else c
    return c == int(item[10])


def parse_ts(text: str) -> tuple[datetime, int | None] | None:
    """(wall clock, offset minutes or None) of an ISO 8601 event time; None when impossible."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        us = int(round(float(frac) * 1e6)) if frac else 0
        wall = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), min(us, 999999))
    except ValueError:
        return None
    if off is None:
        return wall, None
    if off == "Z":
        return wall, 0
    sign = 1 if off[0] == "+" else -1
    digits = off[1:].replace(":", "")
    oh, om = int(digits[:2]), int(digits[2:])
    if oh > 23 or om > 59:
        return None
    return wall, sign * (oh * 60 + om)


def _event_records(path: Path):
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)  # a truncated gzip raises: the whole file is unreadable
    text = data.decode("utf-8-sig")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".jsonl"):
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield {k: (None if v is None or v == "" else str(v) if not isinstance(v, str) else v)
                       for k, v in obj.items()}
    else:
        reader = csv.reader(io.StringIO(text))
        header = None
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            yield {h: (c if c != "" else None) for h, c in zip(header, cells)}


def load_events(landing: Path, ref: Reference) -> pl.DataFrame:
    """Loaded, deduplicated events with their UTC instant (naive datetime, UTC)."""
    out = {}
    for p, _day in _dated_files(landing, "item_events", (".jsonl", ".jsonl.gz", ".csv", ".csv.gz")):
        try:
            recs = list(_event_records(p))
        except Exception:  # unreadable file: quarantined whole
            continue
        for r in recs:
            item, code, t, office = r.get("item_id"), r.get("event_code"), r.get("event_time"), r.get("office_code")
            if not (item and code and t and office):
                continue
            if not s10_ok(item) or code not in EVENT_CODES:
                continue
            if office in ref.codes:
                tzname = ref.tz(office)
            elif not office.startswith("CN") and re.fullmatch(r"[A-Z]{2}[A-Z0-9]{4}", office):
                tzname = None  # foreign: the demo and the handmade zone always give an offset
            else:
                continue
            mc = r.get("mail_class")
            if mc is not None and mc not in ("U", "C", "E"):
                continue
            if any(r.get(c) is not None and not re.fullmatch(r"[A-Z]{2}", r[c])
                   for c in ("origin_country", "destination_country")):
                continue
            w = r.get("weight_g")
            if w is not None:
                try:
                    if float(w) < 0:
                        continue
                except ValueError:
                    continue
            parsed = parse_ts(t)
            if parsed is None:
                continue
            wall, off = parsed
            if off is not None:
                utc = wall - timedelta(minutes=off)
            else:
                z = ZoneInfo(tzname or "UTC")
                utc = wall.replace(tzinfo=z).astimezone(timezone.utc).replace(tzinfo=None)
            key = (item, code, utc, office)
            if key not in out:
                out[key] = (r.get("destination_country"), r.get("origin_country"), r.get("next_office_code"))
    items, codes, utcs, offices, dest, orig = [], [], [], [], [], []
    for (item, code, utc, office), (dc, oc, _n) in out.items():
        items.append(item); codes.append(code); utcs.append(utc); offices.append(office)
        dest.append(dc); orig.append(oc)
    return pl.DataFrame({"item_id": items, "event_code": codes, "utc": utcs, "office_code": offices,
                         "destination_country": dest, "origin_country": orig},
                        schema={"item_id": pl.Utf8, "event_code": pl.Utf8, "utc": pl.Datetime("us"),
                                "office_code": pl.Utf8, "destination_country": pl.Utf8, "origin_country": pl.Utf8})


# --------------------------------------------------------------------------- inputs

@dataclass
class Inputs:
    ref: Reference
    eo: pl.DataFrame
    cc: pl.DataFrame
    events: pl.DataFrame
    eo_rejected: set[tuple[str, date]]   # (office, day) whose report arrived and was rejected
    cc_rejected: set[tuple[str, date]]


def load_landing(landing: Path, run_of: Callable[[str, date], int] | None = None) -> Inputs:
    """run_of(rel_path, folder_date) -> index of the run that first saw the file (default: the
    night of its date folder, as a `clearcap run --date first --to last` over a full zone does)."""
    landing = Path(landing)
    run_of = run_of or (lambda rel, day: day.toordinal())
    ref = Reference(read_offices(landing / "reference" / "offices.csv"))
    eo, eo_rejected = load_reports(landing, "exchange_office", ref, run_of)
    cc, cc_rejected = load_reports(landing, "customs_centre", ref, run_of)
    return Inputs(ref, eo, cc, load_events(landing, ref), eo_rejected, cc_rejected)


# --------------------------------------------------------------------------- helpers

def _sum(values):
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def _div(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _local_date(utc: datetime, tzname: str) -> date:
    return utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tzname)).date()


def _iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


# --------------------------------------------------------------------------- marts

def office_daily(inp: Inputs, days: list[date]) -> pl.DataFrame:
    ref, eo = inp.ref, inp.eo
    daily: dict[tuple, dict] = {}
    if eo.height:
        groups = defaultdict(list)
        for r in eo.iter_rows(named=True):
            groups[(r["office_code"], r["report_date"], r["direction"])].append(r)
        for k, rs in groups.items():
            daily[k] = {c: _sum(r[c] for r in rs) for c in EO_SUMS}
    reported_days = {(k[0], k[1]) for k in daily}
    directions = defaultdict(set)
    for k in daily:
        directions[k[0]].add(k[2])
    dayset = set(days)
    out = []
    for (office, d, direction), m in daily.items():
        if d not in dayset:
            continue
        window = [daily[(office, d - timedelta(days=i), direction)]["items_dispatched"]
                  for i in range(7) if (office, d - timedelta(days=i), direction) in daily]
        window = [v for v in window if v is not None]
        mean7 = sum(window) / len(window) if window else None
        cap = ref.capacity(office, d, direction)
        out.append({"office_code": office, "report_date": d, "direction": direction, **m,
                    "capacity_per_day": cap,
                    "load_factor": _div(m["items_received"], cap), "utilization": _div(m["items_dispatched"], cap),
                    "release_rate": _div(m["items_released"], m["items_presented"]),
                    "inspection_rate": _div(m["items_inspected"], m["items_presented"]),
                    "hold_rate": _div(m["items_held"], m["items_presented"]),
                    "backlog_days": _div(m["backlog_close"], mean7), "reported": True,
                    "missing_reason": None})
    first_report = min((k[1] for k in daily), default=None)
    for d in days:
        if first_report is None or d < first_report:
            continue  # before the feed's first report ever (pipeline convention; spec is silent)
        for office in ref.expected(d, EXCHANGE_TYPES):
            if (office, d) in reported_days:
                continue
            # directions of a missing office: those it reports on elsewhere (pipeline convention,
            # indicators.md leaves it open), inbound and outbound when it never reported
            for direction in sorted(directions.get(office) or {"inbound", "outbound"}):
                cap = ref.capacity(office, d, direction)
                out.append({"office_code": office, "report_date": d, "direction": direction,
                            **{c: None for c in EO_SUMS}, "capacity_per_day": cap, "load_factor": None,
                            "utilization": None, "release_rate": None, "inspection_rate": None,
                            "hold_rate": None, "backlog_days": None, "reported": False,
                            "missing_reason": "rejected" if (office, d) in inp.eo_rejected else "not_received"})
    return _frame(out, ["office_code", "report_date", "direction"])


def centre_daily(inp: Inputs, days: list[date]) -> pl.DataFrame:
    ref, cc = inp.ref, inp.cc
    rows = [r for r in cc.iter_rows(named=True)] if cc.height else []
    lodged = defaultdict(list)
    for r in rows:
        lodged[(r["centre_code"], r["report_date"], r["direction"])].append(r["declarations_lodged"])
    dayset = set(days)
    out, reported = [], set()
    for r in rows:
        d = r["report_date"]
        reported.add((r["centre_code"], d))
        if d not in dayset:
            continue
        cap = ref.capacity(r["centre_code"], d, r["direction"])
        out.append({"centre_code": r["centre_code"], "report_date": d, "direction": r["direction"],
                    "regime": r["regime"], **{c: r[c] for c in CC_COUNTS}, "capacity_per_day": cap,
                    "release_rate": _div(r["declarations_released"], r["declarations_lodged"]),
                    "inspection_rate": _div(r["declarations_inspected"], r["declarations_lodged"]),
                    "mean_release_h": _div(r["release_hours_total"], r["declarations_released"]),
                    "load_factor": _div(_sum(lodged[(r["centre_code"], d, r["direction"])]), cap),
                    "reported": True, "missing_reason": None})
    first_report = min((r["report_date"] for r in rows), default=None)
    for d in days:
        if first_report is None or d < first_report:
            continue  # before the feed's first report ever (pipeline convention; spec is silent)
        for centre in ref.expected(d, (CENTRE_TYPE,)):
            if (centre, d) in reported:
                continue
            for direction in ("inbound", "outbound"):
                out.append({"centre_code": centre, "report_date": d, "direction": direction, "regime": None,
                            **{c: None for c in CC_COUNTS}, "capacity_per_day": ref.capacity(centre, d, direction),
                            "release_rate": None, "inspection_rate": None, "mean_release_h": None,
                            "load_factor": None, "reported": False,
                            "missing_reason": "rejected" if (centre, d) in inp.cc_rejected else "not_received"})
    return _frame(out, ["centre_code", "report_date", "direction", "regime"])


def clearance_items(inp: Inputs) -> pl.DataFrame:
    """One row per (item, office, direction) presented to customs at an office of offices.csv:
    presented, released (UTC), dwell_h, retained, release_date and presented_date (local)."""
    ev = inp.events.filter(pl.col("office_code").is_in(list(inp.ref.codes)))
    by = defaultdict(lambda: defaultdict(list))
    for item, code, utc, office in ev.select("item_id", "event_code", "utc", "office_code").iter_rows():
        by[(item, office)][code].append(utc)
    rules = {"inbound": (("EDB", "EME"), "EDC", "EMF", "EME"), "outbound": (("EXA", "EXB"), "EXC", "EMC", "EXB")}
    out = []
    for (item, office), codes in by.items():
        tzname = inp.ref.tz(office)
        for direction, (pres_codes, rel_code, fallback, hold) in rules.items():
            pres = [t for c in pres_codes for t in codes.get(c, ())]
            if not pres:
                continue
            p = min(pres)
            cands = [t for t in codes.get(rel_code, ()) if t >= p]
            if not cands:
                cands = [t for t in codes.get(fallback, ()) if t > p]  # "after presented"
            r = min(cands) if cands else None
            dwell = (r - p).total_seconds() / 3600.0 if r is not None else None
            retained = r is not None and any(p <= t <= r for t in codes.get(hold, ()))
            out.append({"item_id": item, "office_code": office, "direction": direction, "presented": p,
                        "released": r, "dwell_h": dwell, "retained": retained,
                        "presented_date": _local_date(p, tzname),
                        "release_date": _local_date(r, tzname) if r is not None else None})
    return pl.DataFrame(out, schema={"item_id": pl.Utf8, "office_code": pl.Utf8, "direction": pl.Utf8,
                                     "presented": pl.Datetime("us"), "released": pl.Datetime("us"),
                                     "dwell_h": pl.Float64, "retained": pl.Boolean, "presented_date": pl.Date,
                                     "release_date": pl.Date})


def _stats(dw: np.ndarray) -> dict:
    return {"n_released": len(dw), "dwell_mean_h": float(np.mean(dw)),
            "dwell_p50_h": float(np.percentile(dw, 50)), "dwell_p90_h": float(np.percentile(dw, 90)),
            "dwell_p95_h": float(np.percentile(dw, 95)), "dwell_max_h": float(np.max(dw)),
            "share_within_24h": float(np.mean(dw <= 24.0))}


def customs_dwell_daily(clr: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """One row per office, direction and day from the office's first clearance day on (days
    without releases carry n_released = 0, NULL statistics and the stock in customs)."""
    rel = clr.filter(pl.col("released").is_not_null())
    groups = defaultdict(list)
    for r in rel.iter_rows(named=True):
        groups[(r["office_code"], r["release_date"], r["direction"])].append(r)
    by_od = defaultdict(list)
    for r in clr.iter_rows(named=True):
        by_od[(r["office_code"], r["direction"])].append((r["presented_date"], r["release_date"]))
    out = []
    for (office, direction), spans in by_od.items():
        first = min(min(pd for pd, _ in spans), min((rd for _, rd in spans if rd is not None), default=date.max))
        for d in days:
            if d < first:
                continue
            rs = groups.get((office, d, direction), [])
            open_ = sum(1 for pd, rd in spans if pd <= d and (rd is None or rd > d))
            if rs:
                stats = _stats(np.array([r["dwell_h"] for r in rs], dtype=float))
            else:
                stats = {"n_released": 0, **{c: None for c in ("dwell_mean_h", "dwell_p50_h", "dwell_p90_h",
                                                               "dwell_p95_h", "dwell_max_h", "share_within_24h")}}
            out.append({"office_code": office, "release_date": d, "direction": direction, **stats,
                        "n_retained": sum(1 for r in rs if r["retained"]), "in_customs_close": open_})
    return _frame(out, ["office_code", "release_date", "direction"])


def national_daily(od: pl.DataFrame, clr: pl.DataFrame, ref: Reference, days: list[date]) -> pl.DataFrame:
    rep = od.filter(pl.col("reported"))
    groups = defaultdict(list)
    for r in rep.iter_rows(named=True):
        groups[(r["report_date"], r["direction"])].append(r)
    rel = clr.filter(pl.col("released").is_not_null())
    dw = defaultdict(list)
    for r in rel.iter_rows(named=True):
        dw[(r["release_date"], r["direction"])].append(r["dwell_h"])
    out = []
    for (d, direction), rs in groups.items():
        if d not in set(days):
            continue
        sums = {c: _sum(r[c] for r in rs) for c in EO_SUMS}
        cap = _sum(r["capacity_per_day"] for r in rs)
        x = np.array(dw.get((d, direction), []), dtype=float)
        out.append({"report_date": d, "direction": direction, **sums, "capacity_per_day": cap,
                    "utilization": _div(sums["items_dispatched"], cap), "load_factor": _div(sums["items_received"], cap),
                    "offices_reporting": len({r["office_code"] for r in rs}),
                    "offices_expected": len(ref.expected(d, EXCHANGE_TYPES)),
                    "n_released": len(x),
                    "dwell_p50_h": float(np.percentile(x, 50)) if len(x) else None,
                    "share_within_24h": float(np.mean(x <= 24.0)) if len(x) else None})
    return _frame(out, ["report_date", "direction"])


def dispatches(inp: Inputs) -> pl.DataFrame:
    """Outbound items: last EMC at a Chinese office, first EMD in the destination country after it."""
    ev = inp.events
    by = defaultdict(list)
    for item, code, utc, office, dc in ev.select("item_id", "event_code", "utc", "office_code",
                                                 "destination_country").iter_rows():
        by[item].append((code, utc, office, dc))
    out = []
    for item, evs in by.items():
        emc = [(t, o) for c, t, o, _ in evs if c == "EMC" and o in inp.ref.codes and o.startswith("CN")]
        if not emc:
            continue
        t, office = max(emc)
        dests = [dc for _c, _t, _o, dc in evs if dc]
        if not dests:
            continue
        dest = dests[0]
        arr = [tt for c, tt, o, _ in evs if c == "EMD" and o[:2] == dest and tt > t]
        a = min(arr) if arr else None
        local = _local_date(t, inp.ref.tz(office))
        out.append({"item_id": item, "origin_office": office, "destination_country": dest, "dispatch": t,
                    "local_date": local, "iso_week": _iso_week(local), "month": local.strftime("%Y-%m"),
                    "leg_days": (a - t).total_seconds() / 86400.0 if a is not None else None})
    return pl.DataFrame(out, schema={"item_id": pl.Utf8, "origin_office": pl.Utf8, "destination_country": pl.Utf8,
                                     "dispatch": pl.Datetime("us"), "local_date": pl.Date, "iso_week": pl.Utf8,
                                     "month": pl.Utf8, "leg_days": pl.Float64})


def lane_weekly(disp: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    weeks = {_iso_week(d) for d in days}
    groups = defaultdict(list)
    for r in disp.iter_rows(named=True):
        if r["iso_week"] in weeks:
            groups[(r["origin_office"], r["destination_country"], r["iso_week"])].append(r["leg_days"])
    out = []
    for (o, c, w), legs in groups.items():
        a = np.array([x for x in legs if x is not None], dtype=float)
        out.append({"origin_office": o, "destination_country": c, "iso_week": w, "items_dispatched": len(legs),
                    "items_arrived": len(a),
                    "leg_p50_days": float(np.percentile(a, 50)) if len(a) else None,
                    "leg_p90_days": float(np.percentile(a, 90)) if len(a) else None,
                    "leg_mean_days": float(np.mean(a)) if len(a) else None})
    return _frame(out, ["origin_office", "destination_country", "iso_week"])


def destination_monthly(disp: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    months = {d.strftime("%Y-%m") for d in days}
    counts = defaultdict(int)
    total = defaultdict(int)
    for c, m in disp.select("destination_country", "month").iter_rows():
        counts[(c, m)] += 1
        total[m] += 1

    def shift(month: str, k: int) -> str:
        y, mo = map(int, month.split("-"))
        i = y * 12 + mo - 1 - k
        return f"{i // 12:04d}-{i % 12 + 1:02d}"
    out = []
    for (c, m), n in counts.items():
        if m not in months:
            continue
        prev, last = counts.get((c, shift(m, 1))), counts.get((c, shift(m, 12)))
        out.append({"destination_country": c, "month": m, "items_dispatched": n, "share": n / total[m],
                    "growth_mom": n / prev - 1 if prev else None, "growth_yoy": n / last - 1 if last else None})
    return _frame(out, ["destination_country", "month"])


def outlook_row(volumes: dict[date, float | None], as_of: date, capacity: int | None) -> dict:
    """capacity_outlook for one site and direction: volumes = {day: volume} of reported days."""
    w28 = [v for d, v in volumes.items() if as_of - timedelta(days=27) <= d <= as_of and v is not None]
    fit = [(d, v) for d, v in volumes.items() if as_of - timedelta(days=89) <= d <= as_of and v is not None and v > 0]
    mean = float(np.mean(w28)) if w28 else None
    p95 = float(np.percentile(np.array(w28, dtype=float), 95)) if w28 else None
    growth = None
    if len(fit) >= 28:
        x = np.array([d.toordinal() for d, _ in fit], dtype=float)
        y = np.log(np.array([v for _, v in fit], dtype=float))
        xm = x - x.mean()
        slope = float((xm * (y - y.mean())).sum() / (xm * xm).sum())
        growth = math.exp(30 * slope) - 1
    breach = None
    if mean is not None and capacity:
        thr = 0.85 * capacity
        if mean >= thr:
            breach = as_of
        elif growth is not None and growth > 0 and mean > 0:
            n = 0
            # smallest whole day n with mean * (1 + g)^(n / 30) >= threshold
            n = math.ceil(30 * math.log(thr / mean) / math.log1p(growth))
            while n > 0 and mean * (1 + growth) ** ((n - 1) / 30) >= thr * (1 - 1e-12):
                n -= 1
            if n <= 730:
                breach = as_of + timedelta(days=n)
    return {"mean_28d": mean, "p95_28d": p95, "days_28d": len(w28), "capacity_per_day": capacity,
            "headroom": (1 - p95 / capacity) if (p95 is not None and capacity) else None,
            "growth_monthly": growth, "days_fit": len(fit), "breach_date": breach}


def capacity_outlook(od: pl.DataFrame, cd: pl.DataFrame, ref: Reference, days: list[date]) -> pl.DataFrame:
    series = defaultdict(dict)
    for r in od.iter_rows(named=True):
        series[("exchange_office", r["office_code"], r["direction"])][r["report_date"]] = \
            r["items_received"] if r["reported"] else None
    cen = defaultdict(list)
    for r in cd.iter_rows(named=True):
        cen[(r["centre_code"], r["direction"], r["report_date"])].append(r)
    for (c, direction, d), rs in cen.items():
        v = _sum(r["declarations_lodged"] for r in rs if r["reported"])
        series[(CENTRE_TYPE, c, direction)][d] = v
    dayset = set(days)
    out = []
    for (kind, code, direction), vols in series.items():
        for d in vols:
            if d not in dayset:
                continue
            out.append({"office_code": code, "direction": direction, "as_of_date": d, "site_kind": kind,
                        **outlook_row(vols, d, ref.capacity(code, d, direction))})
    return _frame(out, ["office_code", "direction", "as_of_date"])


STAY_STEPS = ("to_customs", "customs", "after_release", "stay")
# direction: (arrival code, departure code)
STAY_CODES = {"inbound": ("EMD", "EMF"), "outbound": ("EMB", "EMC")}


def office_stays(inp: Inputs, clr: pl.DataFrame) -> list[dict]:
    """One stay per (item, office of exchange, direction) with a departure event there: the hours
    of each step (docs/office-stay.md), None where a step is missing."""
    exchange = {o.code for o in inp.ref.rows if o.type in EXCHANGE_TYPES}
    clearance = {(r["item_id"], r["office_code"], r["direction"]): r
                 for r in clr.iter_rows(named=True) if r["office_code"] in exchange}
    times = defaultdict(list)
    for item, code, utc, office in inp.events.select("item_id", "event_code", "utc", "office_code").iter_rows():
        if office in exchange:
            times[(item, office, code)].append(utc)
    out = []
    for (item, office, code), deps in list(times.items()):
        direction = next((d for d, (_a, dep) in STAY_CODES.items() if dep == code), None)
        if direction is None:
            continue
        c = clearance.get((item, office, direction))
        released = c["released"] if c else None
        later = [t for t in deps if released is not None and t >= released]
        departure = min(later) if later else min(deps)
        arrivals = [t for t in times.get((item, office, STAY_CODES[direction][0]), ()) if t <= departure]
        arrival = min(arrivals) if arrivals else None
        ok = released is not None and released <= departure
        hours = lambda a, b: (b - a).total_seconds() / 3600.0  # noqa: E731
        out.append({
            "office_code": office, "direction": direction,
            "departure_date": _local_date(departure, inp.ref.tz(office)),
            "missing_arrival": arrival is None, "missing_release": not ok,
            "to_customs": hours(arrival, c["presented"]) if ok and arrival is not None
            and arrival <= c["presented"] else None,
            "customs": hours(c["presented"], released) if ok else None,
            "after_release": hours(released, departure) if ok else None,
            "stay": hours(arrival, departure) if arrival is not None else None,
        })
    return out


def office_stay_daily(stays: list[dict], days: list[date]) -> pl.DataFrame:
    dayset = set(days)
    groups = defaultdict(list)
    for s in stays:
        if s["departure_date"] in dayset:
            groups[("office", s["office_code"], s["departure_date"], s["direction"])].append(s)
            groups[("national", None, s["departure_date"], s["direction"])].append(s)
    out = []
    for (scope, office, d, direction), ss in groups.items():
        row = {"scope": scope, "office_code": office, "departure_date": d, "direction": direction,
               "n_items": len(ss), "n_missing_arrival": sum(s["missing_arrival"] for s in ss),
               "n_missing_release": sum(s["missing_release"] for s in ss)}
        for step in STAY_STEPS:
            x = np.array([s[step] for s in ss if s[step] is not None], dtype=float)
            row[f"{step}_n"] = len(x)
            for name, fn in (("mean", np.mean), ("p50", lambda a: np.percentile(a, 50)),
                             ("p90", lambda a: np.percentile(a, 90)), ("p95", lambda a: np.percentile(a, 95))):
                row[f"{step}_{name}_h"] = float(fn(x)) if len(x) else None
        stay = np.array([s["stay"] for s in ss if s["stay"] is not None], dtype=float)
        row["stay_share_within_24h"] = float(np.mean(stay <= 24.0)) if len(stay) else None
        row["stay_share_within_48h"] = float(np.mean(stay <= 48.0)) if len(stay) else None
        out.append(row)
    return _frame(out, ["scope", "office_code", "departure_date", "direction"])


def compute_marts(inp: Inputs, days: list[date]) -> dict[str, pl.DataFrame]:
    days = sorted(days)
    od = office_daily(inp, days)
    cd = centre_daily(inp, days)
    clr = clearance_items(inp)
    disp = dispatches(inp)
    return {
        "office_daily": od,
        "centre_daily": cd,
        "customs_dwell_daily": customs_dwell_daily(clr, days),
        "national_daily": national_daily(od, clr, inp.ref, days),
        "lane_weekly": lane_weekly(disp, days),
        "destination_monthly": destination_monthly(disp, days),
        "capacity_outlook": capacity_outlook(od, cd, inp.ref, days),
        "office_stay_daily": office_stay_daily(office_stays(inp, clr), days),
        "_clearance": clr,
        "_dispatches": disp,
    }


def _frame(rows: list[dict], keys: list[str]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows, infer_schema_length=None).sort(keys, nulls_last=True)


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


__all__ = ["Inputs", "load_landing", "compute_marts", "outlook_row", "date_range", "s10_ok", "parse_ts"]


# --------------------------------------------------------------------------- comparison

MART_KEYS = {
    "office_daily": ["office_code", "report_date", "direction"],
    "customs_dwell_daily": ["office_code", "release_date", "direction"],
    "centre_daily": ["centre_code", "report_date", "direction", "regime"],
    "national_daily": ["report_date", "direction"],
    "lane_weekly": ["origin_office", "destination_country", "iso_week"],
    "destination_monthly": ["destination_country", "month"],
    "capacity_outlook": ["office_code", "direction", "as_of_date"],
    "office_stay_daily": ["scope", "office_code", "departure_date", "direction"],
}


def read_mart(con, table: str) -> pl.DataFrame:
    cur = con.execute(f"SELECT * FROM mart.{table}")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return pl.DataFrame([dict(zip(names, r)) for r in rows], infer_schema_length=None) if rows \
        else pl.DataFrame(schema=names)


def _same(a, b, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return False
        return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-12
    return a == b


def compare(table: str, actual: pl.DataFrame, expected: pl.DataFrame, rel: float = 1e-9,
            columns: list[str] | None = None) -> list[str]:
    """Differences between the pipeline's mart rows and the reference rows, one line each."""
    keys = MART_KEYS[table]
    if expected.height == 0 and actual.height == 0:
        return []
    cols = columns or [c for c in expected.columns if c not in keys and c in actual.columns]
    missing_cols = [c for c in expected.columns if c not in actual.columns]
    problems = [f"{table}: column {c} missing in mart" for c in missing_cols]
    a = {tuple(r[k] for k in keys): r for r in actual.iter_rows(named=True)}
    e = {tuple(r[k] for k in keys): r for r in expected.iter_rows(named=True)}
    for k in sorted(set(e) - set(a), key=str):
        problems.append(f"{table}: key {k} expected but not in mart")
    for k in sorted(set(a) - set(e), key=str):
        problems.append(f"{table}: key {k} in mart but not expected ({ {c: a[k][c] for c in cols[:4]} })")
    for k in sorted(set(a) & set(e), key=str):
        for c in cols:
            if not _same(a[k][c], e[k][c], rel):
                problems.append(f"{table}: {k} {c}: mart={a[k][c]!r} expected={e[k][c]!r}")
    return problems
