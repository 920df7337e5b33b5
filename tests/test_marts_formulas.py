"""Focused checks of indicators.md formulas on synthetic feeds with known answers: capacity_outlook
(growth, breach date, thresholds), national dwell over items, and rerun idempotence."""
from __future__ import annotations

import json
import math
import os
import shutil
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

import reference_impl as R
from conftest import open_published, run_clearcap

FIRST = date(2026, 6, 1)
DAYS = 92
LAST = FIRST + timedelta(days=DAYS - 1)
CN = timezone(timedelta(hours=8))
CAP = 10_000_000

# office -> (kind, parameter); capacity in and out = CAP
SITES = {
    "CNBJSA": ("growth", 0.10),     # +10 % a month: breach 0.85 x CAP in about 400 days
    "CNSHAA": ("growth", 0.05),     # +5 % a month: breach more than 730 days away -> NULL
    "CNCANA": ("growth", -0.03),    # declining -> breach NULL
    "CNSZXA": ("flat", 9_000_000),  # already above 0.85 x CAP -> breach = as_of_date
    "CNXMNA": ("sparse", None),     # 28 positive days in the first 82, zero after
}
HEADER = ("report_date,office_code,direction,mail_class,items_received,items_dispatched,items_presented,"
          "items_released,items_inspected,items_held,items_returned,backlog_close")


def volume(code: str, t: int) -> int:
    kind, p = SITES[code]
    if kind == "growth":
        return int(round(2_000_000 * (1 + p) ** (t / 30)))
    if kind == "flat":
        return p
    return 5_000 + 10 * t if (t % 3 == 0 and t <= 81) else 0


def _write(path, text, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def _mtime(day: date, hours: float = 25) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=CN).timestamp() + hours * 3600


def _s10(serial: int, prefix="EE") -> str:
    s8 = f"{serial:08d}"
    c = 11 - sum(int(d) * w for d, w in zip(s8, (8, 6, 4, 2, 3, 5, 9, 7))) % 11
    return f"{prefix}{s8}{0 if c == 10 else 5 if c == 11 else c}CN"


def build(landing):
    lines = ["office_code,office_type,name_zh,name_en,province,city,tz,capacity_in_per_day,capacity_out_per_day,valid_from,valid_to"]
    for code in SITES:
        lines.append(f"{code},exchange_office,{code},{code},x,x,,{CAP},{CAP},2020-01-01,")
    lines.append("SZXKJ01,express_supervision_centre,中心,centre,x,x,,1000,2000,2020-01-01,")
    _write(landing / "reference" / "offices.csv", "\n".join(lines) + "\n", _mtime(FIRST, -48))
    for t in range(DAYS):
        day = FIRST + timedelta(days=t)
        for code in SITES:
            v = volume(code, t)
            rows = [HEADER]
            for direction in ("inbound", "outbound"):
                # split over two mail classes: the mart sums them
                a = v // 3
                rows.append(f"{day},{code},{direction},U,{a},{a},0,0,0,0,0,0")
                rows.append(f"{day},{code},{direction},C,{v - a},{v - a},10,9,1,0,0,5")
            _write(landing / "exchange_office" / day.isoformat() / f"{code}_{day:%Y%m%d}.csv", "\n".join(rows) + "\n",
                   _mtime(day))
        centre = ["report_date,centre_code,direction,regime,declarations_lodged,declarations_released,"
                  "declarations_inspected,declarations_held,declarations_rejected,items_declared,declared_value_cny,"
                  "release_hours_total,pending_close"]
        for direction, regime, lodged in (("inbound", "KJ-A", 300), ("inbound", "9610", 200 + t),
                                          ("outbound", "9710", 1800)):
            centre.append(f"{day},SZXKJ01,{direction},{regime},{lodged},{lodged},1,0,0,{lodged},1.5,{lodged * 2},0")
        _write(landing / "customs_centre" / day.isoformat() / f"SZXKJ01_{day:%Y%m%d}.csv", "\n".join(centre) + "\n",
               _mtime(day))
    # national dwell on LAST: CNBJSA releases items after 1, 2 and 3 h, CNSHAA one after 100 h
    evs = []
    for k, (code, hours) in enumerate([("CNBJSA", 1), ("CNBJSA", 2), ("CNBJSA", 3), ("CNSHAA", 100)]):
        item = _s10(12345000 + k)
        rel = datetime(LAST.year, LAST.month, LAST.day, 20, 0)
        pres = rel - timedelta(hours=hours)
        evs.append({"item_id": item, "event_code": "EDB", "event_time": pres.isoformat(), "office_code": code})
        evs.append({"item_id": item, "event_code": "EDC", "event_time": rel.isoformat(), "office_code": code})
    _write(landing / "item_events" / LAST.isoformat() / "ev.jsonl", "".join(json.dumps(e) + "\n" for e in evs),
           _mtime(LAST))


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    root = tmp_path_factory.mktemp("formulas")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    build(landing)
    run_clearcap(landing, warehouse, LAST - timedelta(days=1), LAST)
    return landing, warehouse


@pytest.fixture(scope="module")
def outlook(zone):
    con = open_published(zone[1])
    cur = con.execute("SELECT * FROM mart.capacity_outlook")
    names = [d[0] for d in cur.description]
    rows = {(r["office_code"], r["direction"], r["as_of_date"]): r
            for r in (dict(zip(names, x)) for x in cur.fetchall())}
    con.close()
    return rows


def _window(code: str, as_of: date, n: int) -> list[int]:
    t1 = (as_of - FIRST).days
    return [volume(code, t) for t in range(max(0, t1 - n + 1), t1 + 1)]


def _breach(mean: float, g: float, as_of: date) -> date | None:
    thr = 0.85 * CAP
    if mean >= thr:
        return as_of
    if g <= 0:
        return None
    n = math.ceil(30 * math.log(thr / mean) / math.log(1 + g))
    return as_of + timedelta(days=n) if n <= 730 else None


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_exponential_growth_recovered(outlook, direction):
    for code, g in (("CNBJSA", 0.10), ("CNSHAA", 0.05), ("CNCANA", -0.03)):
        r = outlook[(code, direction, LAST)]
        assert r["days_fit"] == 90 and r["days_28d"] == 28
        assert r["growth_monthly"] == pytest.approx(g, abs=1e-6), code
        w = np.array(_window(code, LAST, 28), dtype=float)
        assert r["mean_28d"] == pytest.approx(w.mean(), rel=1e-12)
        assert r["p95_28d"] == pytest.approx(np.percentile(w, 95), rel=1e-12)
        assert r["capacity_per_day"] == CAP
        assert r["headroom"] == pytest.approx(1 - np.percentile(w, 95) / CAP, rel=1e-12)


def test_breach_date_known_answers(outlook):
    bj = outlook[("CNBJSA", "inbound", LAST)]
    expected = _breach(bj["mean_28d"], 0.10, LAST)
    assert expected is not None and 300 < (expected - LAST).days < 730
    assert bj["breach_date"] == expected
    # the definition itself: reached on breach_date, not the day before
    n = (bj["breach_date"] - LAST).days
    g = bj["growth_monthly"]
    assert bj["mean_28d"] * (1 + g) ** (n / 30) >= 0.85 * CAP > bj["mean_28d"] * (1 + g) ** ((n - 1) / 30)
    sh = outlook[("CNSHAA", "inbound", LAST)]
    assert 30 * math.log(0.85 * CAP / sh["mean_28d"]) / math.log(1.05) > 730
    assert sh["breach_date"] is None                                           # more than 730 days away
    assert outlook[("CNCANA", "inbound", LAST)]["breach_date"] is None        # declining
    for day in (FIRST, FIRST + timedelta(days=40), LAST):                    # already above 85 %
        assert outlook[("CNSZXA", "outbound", day)]["breach_date"] == day
    flat = outlook[("CNSZXA", "inbound", LAST)]
    assert flat["growth_monthly"] == pytest.approx(0.0, abs=1e-12)


def test_growth_needs_28_positive_days(outlook):
    # positives on t = 0, 3, ..., 81 (28 days): the window ending on t = 89 holds all 28,
    # the one ending on t = 90 has lost t = 0 and holds 27
    at89 = outlook[("CNXMNA", "inbound", FIRST + timedelta(days=89))]
    at90 = outlook[("CNXMNA", "inbound", FIRST + timedelta(days=90))]
    assert at89["days_fit"] == 28 and at89["growth_monthly"] is not None
    assert at90["days_fit"] == 27 and at90["growth_monthly"] is None and at90["breach_date"] is None
    # zero days are reported days: they count in the 28-day mean (0 is not missing)
    w = np.array(_window("CNXMNA", FIRST + timedelta(days=89), 28), dtype=float)
    assert at89["days_28d"] == 28 and at89["mean_28d"] == pytest.approx(w.mean())
    # early days: fewer than 28 positive days so far
    assert outlook[("CNBJSA", "inbound", FIRST + timedelta(days=26))]["growth_monthly"] is None
    assert outlook[("CNBJSA", "inbound", FIRST + timedelta(days=27))]["growth_monthly"] is not None


def test_centre_outlook_uses_declarations_over_regimes(outlook):
    r = outlook[("SZXKJ01", "inbound", LAST)]
    w = np.array([500 + t for t in range(DAYS - 28, DAYS)], dtype=float)
    assert r["site_kind"] == "express_supervision_centre"
    assert r["mean_28d"] == pytest.approx(w.mean()) and r["capacity_per_day"] == 1000
    thr, mean, g = 850.0, r["mean_28d"], r["growth_monthly"]
    assert mean < thr and g > 0
    assert r["breach_date"] == LAST + timedelta(days=math.ceil(30 * math.log(thr / mean) / math.log(1 + g)))
    out = outlook[("SZXKJ01", "outbound", LAST)]
    assert out["growth_monthly"] == pytest.approx(0.0, abs=1e-12) and out["breach_date"] == LAST  # 1800 >= 1700


def test_outlook_matches_reference_everywhere(zone, outlook):
    inp = R.load_landing(zone[0])
    exp = R.compute_marts(inp, R.date_range(FIRST, LAST))["capacity_outlook"]
    con = open_published(zone[1])
    try:
        problems = R.compare("capacity_outlook", R.read_mart(con, "capacity_outlook"), exp)
    finally:
        con.close()
    assert not problems, "\n".join(problems[:30])


def test_national_dwell_over_items_not_office_medians(zone):
    con = open_published(zone[1])
    try:
        n, p50, share = con.execute("""SELECT n_released, dwell_p50_h, share_within_24h FROM mart.national_daily
                                       WHERE report_date = ? AND direction = 'inbound'""", [LAST]).fetchone()
        offices = con.execute("""SELECT office_code, dwell_p50_h FROM mart.customs_dwell_daily
                                 WHERE release_date = ? AND direction = 'inbound' AND n_released > 0
                                 ORDER BY 1""", [LAST]).fetchall()
    finally:
        con.close()
    assert offices == [("CNBJSA", 2.0), ("CNSHAA", 100.0)]
    assert n == 4
    assert p50 == pytest.approx(2.5, rel=1e-12)          # median of 1, 2, 3, 100 (not 51)
    assert share == pytest.approx(0.75, rel=1e-12)       # 3 of 4 items (not 0.5)


def _mart_tables(con) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'mart' ORDER BY 1").fetchall()]


def _diff(path_a, path_b) -> dict[str, tuple[int, int]]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{path_a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{path_b}' AS b (READ_ONLY)")
    out = {}
    ta = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name='a' AND schema_name='mart'").fetchall()}
    tb = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name='b' AND schema_name='mart'").fetchall()}
    assert ta == tb
    for t in sorted(ta - {"publication"}):  # publication: when it was published, differs by design
        only_a = con.execute(f"SELECT count(*) FROM (SELECT * FROM a.mart.{t} EXCEPT ALL SELECT * FROM b.mart.{t})").fetchone()[0]
        only_b = con.execute(f"SELECT count(*) FROM (SELECT * FROM b.mart.{t} EXCEPT ALL SELECT * FROM a.mart.{t})").fetchone()[0]
        if only_a or only_b:
            out[t] = (only_a, only_b)
    con.close()
    return out


def test_rerun_same_date_is_idempotent(zone, tmp_path):
    landing, warehouse = zone
    # work on a copy of the whole state so the module's warehouse stays as built
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, wh)
    shutil.copytree(warehouse.with_name(warehouse.stem + ".state"), tmp_path / "warehouse.state")
    before = tmp_path / "before.duckdb"
    shutil.copy(wh, before)
    run_clearcap(landing, wh, LAST)
    assert _diff(before, wh) == {}
