"""Simulate items and their EMSEVT tracking events (feed C), fully vectorised with numpy.

Times are integer seconds. Each item gets a timeline of offsets from its first event; the
item's first event (its anchor) follows the national daily curve. Events later than the end of
the period have not happened yet and are dropped; the Chinese part of a timeline is kept whole
where it fits in the period, so short runs (days=1) still carry complete clearance sequences.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np
import polars as pl

from .s10 import check_digits, item_ids
from .volume_profile import daily_factor

H = 3600
ITEMS_AT_SCALE_1 = 300_000
EXPORT_SHARE = 0.6
CODES = ("EMA", "EMB", "EXA", "EXB", "EXC", "EMC", "EMD", "EDB", "EME", "EDC", "EMF")
C = {c: i for i, c in enumerate(CODES)}
CLASSES = ("U", "C", "E")
# S10 service indicators per class (E->E, C/H->C, R/L/U/V->U)
PREFIX_FIRST = {"U": "RLUV", "C": "CH", "E": "E"}
# country, office of exchange abroad, UTC offset (h), share of exports, share of imports
FOREIGN = (
    ("US", "USJFKA", -5, 0.17, 0.13), ("GB", "GBLHRA", 0, 0.07, 0.06), ("DE", "DEFRAA", 1, 0.07, 0.08),
    ("FR", "FRCDGA", 1, 0.05, 0.04), ("ES", "ESMADA", 1, 0.03, 0.02), ("JP", "JPNRTA", 9, 0.07, 0.12),
    ("KR", "KRSELA", 9, 0.06, 0.09), ("RU", "RUMOWA", 3, 0.10, 0.04), ("KZ", "KZALAA", 5, 0.03, 0.02),
    ("AE", "AEDXBA", 4, 0.03, 0.02), ("BR", "BRGRUA", -3, 0.05, 0.01), ("AU", "AUSYDA", 10, 0.06, 0.08),
    ("SG", "SGSINA", 8, 0.04, 0.06), ("TH", "THBKKA", 7, 0.05, 0.06), ("MY", "MYKULA", 8, 0.05, 0.06),
    ("VN", "VNHANA", 7, 0.07, 0.11),
)
# Land-border and regional offices work their neighbours' lanes.
LANES = {"CNMLXA": ("RU",), "CNURCA": ("KZ", "RU"), "CNHRBA": ("RU",), "CNKMGA": ("TH", "VN"), "CNNNGA": ("VN",)}
RETENTION_CODES = ("11", "12", "21", "31", "32")
GRAMS = {"U": (180, 0.6), "C": (1400, 0.7), "E": (550, 0.8)}
# posting and arrival by hour of day: e-commerce collection peaks in the evening, flights at night
HOURLY = np.array([2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 6, 5, 4, 3], float)


@dataclass
class Offices:
    codes: list[str]            # Chinese offices, then foreign, then one unknown Chinese code
    offset_h: np.ndarray        # UTC offset of each office
    n_cn: int
    countries: list[str]        # of the foreign offices, same order

    @property
    def unknown(self) -> int:
        return len(self.codes) - 1


@dataclass
class Simulated:
    items: pl.DataFrame   # one row per item: item_id, mail_class, origin_country, destination_country, weight_g
    events: pl.DataFrame  # item (row in items), code, utc (epoch s), office, next_office, day, retention
    offices: Offices


def _ln(rng, median_h: float, sigma: float, n: int) -> np.ndarray:
    return np.rint(rng.lognormal(np.log(median_h * H), sigma, n)).astype(np.int64)


def build_offices(ref: pl.DataFrame) -> Offices:
    cn = ref.filter(pl.col("office_type").is_in(("exchange_office", "exchange_station"))) \
        .unique("office_code", keep="first", maintain_order=True)
    codes = list(cn["office_code"]) + [f[1] for f in FOREIGN] + ["CNXYZA"]
    off = [6 if tz == "Asia/Urumqi" else 8 for tz in cn["tz"]] + [f[2] for f in FOREIGN] + [8]
    return Offices(codes, np.array(off, np.int64), cn.height, [f[0] for f in FOREIGN])


def simulate(ref: pl.DataFrame, start: date, days: int, scale: float, rng: np.random.Generator) -> Simulated:
    offices = build_offices(ref)
    n = max(1, int(round(ITEMS_AT_SCALE_1 * scale)))
    cn = ref.filter(pl.col("office_type").is_in(("exchange_office", "exchange_station"))) \
        .unique("office_code", keep="first", maintain_order=True)

    export = rng.random(n) < EXPORT_SHARE
    w_out = cn["capacity_out_per_day"].to_numpy().astype(float)
    w_in = cn["capacity_in_per_day"].to_numpy().astype(float)
    office = np.where(export, rng.choice(cn.height, n, p=w_out / w_out.sum()),
                      rng.choice(cn.height, n, p=w_in / w_in.sum()))
    f_out = np.array([f[3] for f in FOREIGN]); f_in = np.array([f[4] for f in FOREIGN])
    foreign = np.where(export, rng.choice(len(FOREIGN), n, p=f_out / f_out.sum()),
                       rng.choice(len(FOREIGN), n, p=f_in / f_in.sum()))
    for code, countries in LANES.items():
        if code in offices.codes[: offices.n_cn]:
            m = office == offices.codes.index(code)
            allowed = np.array([offices.countries.index(c) for c in countries])
            foreign[m] = allowed[rng.integers(0, len(allowed), m.sum())]
    cls = np.where(export, rng.choice(3, n, p=[0.45, 0.3, 0.25]), rng.choice(3, n, p=[0.3, 0.35, 0.35]))

    # --- day of the first event; customs slow down when volume peaks (queues build up) ---
    w_day = daily_factor(start, days)
    day = rng.choice(days, n, p=w_day / w_day.sum())
    congestion = np.minimum((w_day / np.median(w_day)) ** 3, 4.0)[day]

    # --- timelines (seconds after the anchor) ---
    t = {}
    imp = ~export
    t["EMD_cn"] = np.zeros(n, np.int64)
    t["EDB"] = _ln(rng, 1.5, 0.6, n)
    retained_in = imp & (rng.random(n) < 0.03)
    t["EME"] = t["EDB"] + _ln(rng, 1.0, 0.5, n)
    dwell_in = np.rint(_ln(rng, 5.0, 0.8, n) * congestion).astype(np.int64) \
        + np.where(retained_in, _ln(rng, 60, 0.6, n), 0)
    t["EDC"] = t["EDB"] + dwell_in
    no_edc = imp & ~retained_in & (rng.random(n) < 0.01)  # released without an EDC: EMF counts
    t["EMF"] = t["EDC"] + _ln(rng, 3.0, 0.6, n)
    t["EMA"] = np.zeros(n, np.int64)
    t["EMB"] = _ln(rng, 5.0, 0.7, n)
    t["EXA"] = t["EMB"] + _ln(rng, 1.0, 0.6, n)
    retained_out = export & (rng.random(n) < 0.02)
    t["EXB"] = t["EXA"] + _ln(rng, 1.0, 0.5, n)
    dwell_out = np.rint(_ln(rng, 2.5, 0.8, n) * congestion).astype(np.int64) \
        + np.where(retained_out, _ln(rng, 48, 0.6, n), 0)
    t["EXC"] = t["EXA"] + dwell_out
    t["EMC"] = t["EXC"] + _ln(rng, 5.0, 0.7, n)
    leg = np.clip(rng.lognormal(np.log(3.5), 0.45, n), 1.0, 10.0)
    t["EMD_abroad"] = t["EMC"] + np.rint(leg * 24 * H).astype(np.int64)
    span = np.where(export, t["EMC"], t["EMF"])

    # --- anchors: local seconds since the period's first midnight at the Chinese office ---
    period = days * 24 * H
    hour = rng.choice(24, n, p=HOURLY / HOURLY.sum())
    anchor = day * 24 * H + hour * H + rng.integers(0, H, n)
    overflow = anchor + span >= period
    anchor[overflow] = np.rint(rng.random(overflow.sum()) * np.maximum(0, period - 1 - span[overflow])).astype(np.int64)
    start_utc = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
    utc0 = start_utc + anchor - offices.offset_h[office] * H

    parts = []
    def add(code: str, key: str, mask: np.ndarray, at_foreign: bool = False, nxt: bool = False, ret: bool = False):
        idx = np.nonzero(mask)[0]
        parts.append(pl.DataFrame({
            "item": idx.astype(np.int32),
            "code": np.full(idx.size, C[code], np.int8),
            "utc": utc0[idx] + t[key][idx],
            "office": (offices.n_cn + foreign[idx] if at_foreign else office[idx]).astype(np.int16),
            "next_office": (offices.n_cn + foreign[idx] if nxt else np.full(idx.size, -1)).astype(np.int16),
            "retention": (rng.integers(0, len(RETENTION_CODES), idx.size) if ret else np.full(idx.size, -1)).astype(np.int8),
        }))
    add("EMD", "EMD_cn", imp); add("EDB", "EDB", imp); add("EME", "EME", retained_in, ret=True)
    add("EDC", "EDC", imp & ~no_edc); add("EMF", "EMF", imp)
    add("EMA", "EMA", export); add("EMB", "EMB", export); add("EXA", "EXA", export)
    add("EXB", "EXB", retained_out, ret=True); add("EXC", "EXC", export); add("EMC", "EMC", export, nxt=True)
    add("EMD", "EMD_abroad", export, at_foreign=True)
    events = pl.concat(parts)

    # local operating day of each event at its office; later than the period = not happened yet
    local = events["utc"].to_numpy() + offices.offset_h[events["office"].to_numpy()] * H
    events = events.with_columns(pl.Series("day", ((local - start_utc) // (24 * H)).astype(np.int32)))
    events = events.filter((pl.col("day") >= 0) & (pl.col("day") < days))

    items = _items(rng, n, export, cls, foreign)
    return Simulated(items, events, offices)


def _items(rng, n, export, cls, foreign) -> pl.DataFrame:
    cls_name = np.array(CLASSES)[cls]
    # service indicator letters consistent with the class; second letter free
    first_pool = {k: np.array(list(v)) for k, v in PREFIX_FIRST.items()}
    first = np.empty(n, dtype="<U1")
    for k, pool in first_pool.items():
        m = cls_name == k
        first[m] = pool[rng.integers(0, len(pool), m.sum())]
    second = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[rng.integers(0, 26, n)]
    countries = np.array([f[0] for f in FOREIGN])
    issuer = np.where(export, "CN", countries[foreign])
    serial = rng.choice(100_000_000, n, replace=False)
    ids = item_ids(pl.Series(np.char.add(first, second)), serial, check_digits(serial), pl.Series(issuer))
    med = np.array([GRAMS[c][0] for c in CLASSES])[cls]
    sig = np.array([GRAMS[c][1] for c in CLASSES])[cls]
    grams = np.maximum(20, np.rint(med * np.exp(sig * rng.standard_normal(n)))).astype(np.int64)
    return pl.DataFrame({
        "item_id": ids,
        "mail_class": cls_name,
        "origin_country": np.where(export, "CN", countries[foreign]),
        "destination_country": np.where(export, countries[foreign], "CN"),
        "weight_g": grams,
        "serial": serial,
    })
