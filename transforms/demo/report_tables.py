"""Numbers of the daily reports (feeds A and B), simulated per row over the days with numpy.

The only loop is over days (the backlogs carry over); every office, direction and class of a
day is computed at once.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from .reference import static_offices
from .volume_profile import daily_factor

EXCHANGE_TYPES = ("exchange_office", "exchange_station")
CENTRE_TYPE = "express_supervision_centre"
CLASSES = ("U", "C", "E")
ITEMS_PER_BAG = {"U": 40, "C": 8, "E": 15}
KG_PER_ITEM = {"U": 0.12, "C": 1.6, "E": 0.75}
INSPECTION_RATE = {"U": 0.012, "C": 0.06, "E": 0.035}
# Offices and centres that run hot: their load on the period's last days (volume_profile's
# daily_factor is ~1 there). Each sits well inside an alert band (0.85-1.0, or above 1.0 for
# CNURCA inbound) rather than on its edge, so the last mornings carry a few standing alerts,
# not a weekly flicker; CNSZXA outbound and the busiest of the others cross 0.85 at the peak.
HOT = {("CNCANA", "outbound"): 0.92, ("CNYIWA", "outbound"): 0.92, ("CNSZXA", "outbound"): 0.76,
       ("CNHGHA", "outbound"): 0.92, ("CNURCA", "inbound"): 1.12, ("SZXKJ01", "outbound"): 0.92}
# The others: far enough below 0.85 that the weekly rhythm and the day's noise do not reach it.
BASE_LOAD = (0.36, 0.56)
DAY_NOISE = 0.02   # sigma of the day's lognormal volume noise of an office or centre
REGIMES = {
    "inbound": ("9610", "1210", "KJ-A", "KJ-B", "KJ-C"),
    "outbound": ("9610", "9710", "9810", "KJ-A", "KJ-C", "0110"),
}
REGIME_SHARE = {"9610": 0.45, "1210": 0.15, "KJ-A": 0.12, "KJ-B": 0.13, "KJ-C": 0.15,
                "9710": 0.1, "9810": 0.06, "0110": 0.02}
ITEMS_PER_DECLARATION = {"9610": 1.0, "1210": 1.3, "KJ-A": 1.0, "KJ-B": 1.6, "KJ-C": 2.2,
                         "9710": 35.0, "9810": 60.0, "0110": 120.0}
CNY_PER_ITEM = {"9610": 180.0, "1210": 260.0, "KJ-A": 0.0, "KJ-B": 450.0, "KJ-C": 900.0,
                "9710": 150.0, "9810": 120.0, "0110": 300.0}
RELEASE_HOURS = {"9610": 3.0, "1210": 2.0, "KJ-A": 1.2, "KJ-B": 5.0, "KJ-C": 4.0,
                 "9710": 8.0, "9810": 10.0, "0110": 20.0}


def _capacities(ref: pl.DataFrame, codes: list[str], dirs: list[str], start: date, days: int) -> np.ndarray:
    """Capacity per day and row, from the validity periods of the reference (vectorised by join)."""
    col = {"inbound": "capacity_in_per_day", "transit": "capacity_in_per_day", "outbound": "capacity_out_per_day"}
    days_df = pl.DataFrame({"t": np.arange(days)}).with_columns(
        (pl.lit(start) + pl.duration(days=pl.col("t"))).cast(pl.Utf8).alias("day"))
    rows = pl.DataFrame({"j": np.arange(len(codes)), "office_code": codes, "col": [col[d] for d in dirs]})
    r = ref.unpivot(index=["office_code", "valid_from", "valid_to"],
                    on=["capacity_in_per_day", "capacity_out_per_day"], variable_name="col", value_name="cap")
    m = (days_df.join(rows, how="cross").join(r, on=["office_code", "col"])
         .filter((pl.col("valid_from") <= pl.col("day")) & ((pl.col("valid_to") == "") | (pl.col("valid_to") >= pl.col("day"))))
         .sort(["t", "j"]))
    return m["cap"].to_numpy().reshape(days, len(codes)).astype(float)


def _base_utilisation(rng, codes, dirs) -> np.ndarray:
    util = rng.uniform(*BASE_LOAD, len(codes))
    return np.array([HOT.get((c, d), u) for c, d, u in zip(codes, dirs, util)])


def exchange_office_table(ref: pl.DataFrame, start: date, days: int, rng: np.random.Generator) -> pl.DataFrame:
    offices = (ref.filter(pl.col("office_type").is_in(EXCHANGE_TYPES)).unique("office_code", keep="first", maintain_order=True))
    transit = set(static_offices().filter(pl.col("handles_transit") == 1)["office_code"])
    od = [(c, d) for c in offices["office_code"] for d in ("inbound", "outbound", "transit")
          if d != "transit" or c in transit]
    codes, dirs = [c for c, _ in od], [d for _, d in od]
    cap = _capacities(ref, codes, dirs, start, days)
    # Volume follows the capacity at period start (an expansion relieves the office, it does not add mail).
    base = cap[0] * _base_utilisation(rng, codes, dirs) * np.where(np.array(dirs) == "transit", 0.12, 1.0)
    volume = base[None, :] * daily_factor(start, days)[:, None] * rng.lognormal(0, DAY_NOISE, (days, len(od)))
    shares = rng.dirichlet([7, 9, 4], len(od))  # U, C, E per office-direction

    n = len(od) * 3
    code_r = np.repeat(codes, 3)
    dir_r = np.repeat(dirs, 3)
    cls_r = np.tile(CLASSES, len(od))
    is_transit = dir_r == "transit"
    received = np.rint(np.repeat(volume, 3, axis=1) * shares.reshape(-1)[None, :]
                       * rng.lognormal(0, 0.04, (days, n))).astype(np.int64)
    insp = np.array([INSPECTION_RATE[c] for c in cls_r])
    bag = np.array([ITEMS_PER_BAG[c] for c in cls_r])
    kg = np.array([KG_PER_ITEM[c] for c in cls_r])

    pend = np.rint(received[0] * 0.08).astype(np.int64)
    backlog = np.rint(received[0] * 0.15).astype(np.int64)
    cols = {k: np.zeros((days, n), np.int64) for k in
            ("presented", "released", "inspected", "held", "returned", "dispatched", "backlog_close")}
    for t in range(days):
        r = received[t]
        presented = np.where(is_transit, 0, np.rint(r * rng.uniform(0.96, 1.0, n))).astype(np.int64)
        held = rng.binomial(presented, 0.002)
        avail = pend + presented - held
        released = np.rint(avail * rng.uniform(0.86, 0.97, n)).astype(np.int64)
        pend = avail - released
        returned = rng.binomial(held + 1, 0.35)
        stock = backlog + r - returned
        dispatched = np.rint(stock * rng.uniform(0.80, 0.93, n)).astype(np.int64)
        backlog = stock - dispatched
        for k, v in (("presented", presented), ("released", released), ("held", held), ("returned", returned),
                     ("dispatched", dispatched), ("backlog_close", backlog)):
            cols[k][t] = v
        cols["inspected"][t] = rng.binomial(presented, np.minimum(insp * rng.lognormal(0, 0.2, n), 0.5))

    t_idx = np.repeat(np.arange(days), n)
    return pl.DataFrame({
        "t": t_idx,
        "office_code": np.tile(code_r, days),
        "direction": np.tile(dir_r, days),
        "mail_class": np.tile(cls_r, days),
        "items_received": received.reshape(-1),
        "items_dispatched": cols["dispatched"].reshape(-1),
        "receptacles": np.ceil(received / bag).astype(np.int64).reshape(-1),
        "weight_kg": np.round(received * kg * rng.lognormal(0, 0.05, (days, n)), 1).reshape(-1),
        "items_presented": cols["presented"].reshape(-1),
        "items_released": cols["released"].reshape(-1),
        "items_inspected": cols["inspected"].reshape(-1),
        "items_held": cols["held"].reshape(-1),
        "items_returned": cols["returned"].reshape(-1),
        "backlog_close": cols["backlog_close"].reshape(-1),
    })


def customs_centre_table(ref: pl.DataFrame, start: date, days: int, rng: np.random.Generator) -> pl.DataFrame:
    centres = ref.filter(pl.col("office_type") == CENTRE_TYPE).unique("office_code", keep="first", maintain_order=True)
    cd = [(c, d) for c in centres["office_code"] for d in ("inbound", "outbound")]
    codes, dirs = [c for c, _ in cd], [d for _, d in cd]
    cap = _capacities(ref, codes, dirs, start, days)
    volume = (cap[0] * _base_utilisation(rng, codes, dirs))[None, :] * daily_factor(start, days)[:, None] \
        * rng.lognormal(0, DAY_NOISE, (days, len(cd)))

    rows = [(j, c, d, g) for j, (c, d) in enumerate(cd) for g in REGIMES[d]]
    j_r = np.array([r[0] for r in rows])
    reg_r = np.array([r[3] for r in rows])
    share = np.array([REGIME_SHARE[g] for g in reg_r])
    share = share / np.bincount(j_r, weights=share)[j_r]  # regimes of a centre-direction sum to 1
    n = len(rows)
    lodged = np.rint(volume[:, j_r] * share[None, :] * rng.lognormal(0, 0.08, (days, n))).astype(np.int64)
    per_decl = np.array([ITEMS_PER_DECLARATION[g] for g in reg_r])
    cny = np.array([CNY_PER_ITEM[g] for g in reg_r])
    hours = np.array([RELEASE_HOURS[g] for g in reg_r])

    pend = np.rint(lodged[0] * 0.1).astype(np.int64)
    out = {k: np.zeros((days, n), np.int64) for k in ("released", "inspected", "held", "rejected", "pending")}
    for t in range(days):
        rejected = rng.binomial(lodged[t], 0.004)
        held = rng.binomial(lodged[t], 0.002)
        avail = pend + lodged[t] - rejected - held
        released = np.rint(avail * rng.uniform(0.85, 0.96, n)).astype(np.int64)
        pend = avail - released
        out["released"][t], out["rejected"][t], out["held"][t], out["pending"][t] = released, rejected, held, pend
        out["inspected"][t] = rng.binomial(lodged[t], 0.03)
    items = np.rint(lodged * per_decl * rng.lognormal(0, 0.1, (days, n))).astype(np.int64)
    value = np.round(items * cny * rng.lognormal(0, 0.15, (days, n)), 2)
    # release_hours_total = released declarations x their mean lodgement-to-release time
    rel_hours = np.round(out["released"] * hours * rng.lognormal(0, 0.2, (days, n)), 1)
    return pl.DataFrame({
        "t": np.repeat(np.arange(days), n),
        "centre_code": np.tile(np.array(codes)[j_r], days),
        "direction": np.tile(np.array(dirs)[j_r], days),
        "regime": np.tile(reg_r, days),
        "declarations_lodged": lodged.reshape(-1),
        "declarations_released": out["released"].reshape(-1),
        "declarations_inspected": out["inspected"].reshape(-1),
        "declarations_held": out["held"].reshape(-1),
        "declarations_rejected": out["rejected"].reshape(-1),
        "items_declared": items.reshape(-1),
        "declared_value_cny": value.reshape(-1),
        "release_hours_total": rel_hours.reshape(-1),
        "pending_close": out["pending"].reshape(-1),
    })
