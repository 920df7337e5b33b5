"""Every published mart column against an independent implementation of indicators.md
(tests/reference_impl.py), on a seeded demo landing zone and on a handmade one with unusual but
legal data the demo generator does not produce."""
from __future__ import annotations

import gzip
import json
import math
import os
from datetime import date, datetime, timedelta, timezone

import pytest

import reference_impl as R
from conftest import open_published, run_clearcap

TABLES = list(R.MART_KEYS)


def _assert_same(con, expected: dict, tables=TABLES) -> None:
    problems = []
    for t in tables:
        problems += R.compare(t, R.read_mart(con, t), expected[t])
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:40])


# --------------------------------------------------------------------------- demo zone

DEMO_START, DEMO_DAYS, DEMO_SEED, DEMO_SCALE = date(2026, 12, 10), 30, 20261210, 0.03


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from transforms.demo import generate

    root = tmp_path_factory.mktemp("demo")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    generate(landing, start=DEMO_START, days=DEMO_DAYS, seed=DEMO_SEED, scale=DEMO_SCALE)
    last = DEMO_START + timedelta(days=DEMO_DAYS - 1)
    # One call over a range: its first night catches up on the first 29 days of files (a first
    # deployment), the next is an ordinary night with a previous one (keeps the test short).
    first_night = last - timedelta(days=1)
    run_clearcap(landing, warehouse, first_night, last)
    inp = R.load_landing(landing, night_of=lambda rel, folder: max(folder, first_night))
    expected = R.compute_marts(inp, R.date_range(DEMO_START, last))
    con = open_published(warehouse)
    yield con, expected
    con.close()


@pytest.mark.parametrize("table", TABLES)
def test_demo_mart_matches_reference(demo, table):
    con, expected = demo
    assert expected[table].height > 0
    _assert_same(con, expected, [table])


def test_demo_reference_is_not_vacuous(demo):
    """The demo exercises what the comparison is meant to catch."""
    _con, e = demo
    od, co = e["office_daily"], e["capacity_outlook"]
    assert (~od["reported"]).sum() >= 1                       # a missing office-day
    assert od["capacity_per_day"].n_unique() > 20
    assert co["growth_monthly"].is_not_null().sum() > 0 and co["breach_date"].is_not_null().sum() > 0
    assert e["customs_dwell_daily"]["n_retained"].sum() > 0
    assert {"2026-W53", "2027-W01"} <= set(e["lane_weekly"]["iso_week"].to_list())


# --------------------------------------------------------------------------- handmade zone

H_FIRST, H_LAST = date(2026, 11, 28), date(2027, 1, 4)
CATCH_UP = date(2026, 12, 31)          # night 1 loads everything up to here
PHASE2_BEFORE = date(2027, 1, 1)        # files of phase 2 appear before this night
CN = timezone(timedelta(hours=8))

OFFICES = """office_code,office_type,name_zh,name_en,province,city,tz,capacity_in_per_day,capacity_out_per_day,valid_from,valid_to
CNBJSA,exchange_office,北京国际邮件互换局,Beijing,北京,北京,,1000,2000,2020-01-01,2026-12-31
CNBJSA,exchange_office,北京国际邮件互换局,Beijing,北京,北京,,1500,2600,2027-01-01,
CNURCA,exchange_office,乌鲁木齐国际邮件互换局,Urumqi,新疆,乌鲁木齐,Asia/Urumqi,800,900,2020-01-01,
CNSHAA,exchange_office,上海国际邮件互换局,Shanghai,上海,上海,Asia/Shanghai,5000,6000,2020-01-01,
CNYIWA,exchange_station,义乌国际邮件交换站,Yiwu,浙江,义乌,,300,2000,2020-01-01,
CNHRBA,exchange_office,哈尔滨国际邮件互换局,Harbin,黑龙江,哈尔滨,,700,700,2027-01-01,
SZXKJ01,express_supervision_centre,深圳机场国际快件监管中心,Shenzhen centre,广东,深圳,,900,1200,2020-01-01,
"""
ZH = ["日期", "互换局代码", "进出口", "邮件种类", "接收件数", "发运件数", "交验件数", "放行件数", "查验件数",
      "扣留件数", "退运件数", "日终积压件数"]
EN = ["report_date", "office_code", "direction", "mail_class", "items_received", "items_dispatched",
      "items_presented", "items_released", "items_inspected", "items_held", "items_returned", "backlog_close"]
DIR_ZH = {"inbound": "进口", "outbound": "出口", "transit": "转运"}
CLASS_ZH = {"U": "函件", "C": "包裹", "E": "特快专递"}


def _mtime(day: date, hours: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=CN).timestamp() + hours * 3600


def _write(path, text: str, mtime: float, encoding="utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    os.utime(path, (mtime, mtime))


def _cell(v):
    return "-" if v is None else str(v)


def _office_rows(code: str, day: date, t: int, factor: float = 1.0) -> list[list]:
    """Rows [direction, class, received, dispatched, presented, released, inspected, held, returned, backlog]."""
    rows = []
    base = {"CNBJSA": 420.0 * math.exp(0.012 * t), "CNURCA": 200 + 15 * (t % 5), "CNSHAA": 900 + 7 * t,
            "CNYIWA": 120 + t}[code] * factor
    for direction, share in (("inbound", 1.0), ("outbound", 1.3)):
        for cls, part in (("U", 0.5), ("C", 0.3), ("E", 0.2)):
            rec = int(round(base * share * part))
            if code == "CNURCA" and t % 9 == 4:
                rec = 0  # a day with nothing received: left out of the growth fit
            disp = int(round(rec * 0.95))
            pres = int(round(rec * 0.6))
            returned = None if cls == "E" else t % 3   # "-" = not reported
            rows.append([direction, cls, rec, disp, pres, int(pres * 0.9), int(pres * 0.1), t % 4, returned,
                         int(rec * 0.2)])
    if code in ("CNBJSA", "CNSHAA"):
        # transit: nothing presented to customs (rates NULL), received not reported on letters
        rows.append(["transit", "U", None, 30 + t, 0, 0, 0, 0, None, 5])
        rows.append(["transit", "C", 40 + t, 35, 0, 0, 0, 0, 0, None])
    return rows


def _report_csv(code: str, day: date, rows: list[list], english=False, total=None, title=True,
                day_text=None) -> str:
    head = EN if english else ZH
    lines = [f"{code} 国际邮件互换局业务日报", ""] if title else []
    lines.append(",".join(head))
    for r in rows:
        direction = r[0] if english else DIR_ZH[r[0]]
        cls = r[1] if english else CLASS_ZH[r[1]]
        lines.append(",".join([day_text or day.isoformat(), code, direction, cls] + [_cell(v) for v in r[2:]]))
    if total is not None:
        lines.append(",".join(["合计", "", "", ""] + [_cell(v) for v in total]))
    return "\n".join(lines) + "\n"


def _totals(rows):
    return [sum(r[i] for r in rows if r[i] is not None) for i in range(2, 10)]


def _centre_csv(day: date, t: int) -> str:
    head = "日期,监管中心代码,进出境,监管方式,申报单数,放行单数,查验单数,扣留单数,退单数,涉及件数,申报货值(元),放行时长合计(小时),日终待放行单数"
    lines = ["深圳机场国际快件监管中心日报", head]
    regimes = [("进境", "快件A类", 100 + t), ("进境", "快件B类", 220 + 2 * t), ("进境", "跨境电商零售", 0),
               ("出境", "跨境电子商务B2B直接出口", 300 + t), ("出境", "一般贸易", 50), ("出境", "快件C类", 80 + t)]
    for direction, label, lodged in regimes:
        released = 0 if label == "一般贸易" else int(lodged * 0.9)
        lines.append(",".join(str(x) for x in (
            day.isoformat(), "SZXKJ01", direction, label, lodged, released, lodged // 10, lodged // 50, 1,
            lodged * 3, f"{lodged * 101.5:.1f}", f"{released * 5.25:.2f}", lodged // 5)))
    return "\n".join(lines) + "\n"


S10_SERIALS = iter(range(10_000_000, 99_999_999, 7919))


def _s10(prefix="EA", country="CN") -> str:
    serial = f"{next(S10_SERIALS):08d}"
    s = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7)))
    c = 11 - s % 11
    c = 0 if c == 10 else 5 if c == 11 else c
    return f"{prefix}{serial}{c}{country}"


def _ev(item, code, when, office, dest="CN", orig="US", **extra):
    return {"item_id": item, "event_code": code, "event_time": when, "office_code": office,
            "mail_class": "E", "origin_country": orig, "destination_country": dest, **extra}


def build_handmade(landing):
    """Write phase 1 of the handmade zone; returns (phase-2 writer, set of phase-2 paths)."""
    _write(landing / "reference" / "offices.csv", OFFICES, _mtime(H_FIRST, -48))
    eo = landing / "exchange_office"
    days = R.date_range(H_FIRST, H_LAST)
    for t, day in enumerate(days):
        folder = eo / day.isoformat()
        ymd = day.strftime("%Y%m%d")
        # Beijing every day: Chinese header, a total row, GB18030 on odd days
        rows = _office_rows("CNBJSA", day, t)
        text = _report_csv("CNBJSA", day, rows, total=_totals(rows))
        _write(folder / f"CNBJSA-日报-{day}.csv", text, _mtime(day, 25), "gb18030" if t % 2 else "utf-8")
        # Urumqi every day but 2026-12-27 (arrives late, in phase 2), English header, no total
        if day != date(2026, 12, 27):
            rows = _office_rows("CNURCA", day, t)
            extra = ""
            if day == date(2026, 12, 30):
                # a negative count and a row dated outside its folder: both rows are quarantined
                extra = (f"2026-12-30,CNURCA,inbound,C,-5,0,0,0,0,0,0,0\n"
                         f"2026-12-29,CNURCA,outbound,E,777,777,0,0,0,0,0,0\n")
            if day == date(2026, 12, 28):
                extra = "2026-12-28,CNZZZA,inbound,U,9999,1,1,1,1,1,1,1\n"  # unknown office: row quarantined
            text = _report_csv("CNURCA", day, rows, english=True, title=False,
                               day_text=day.strftime("%Y/%m/%d")) + extra
            _write(folder / f"daily_report_CNURCA_{ymd}.csv", text, _mtime(day, 25.5))
        if day >= date(2026, 12, 26):
            rows = _office_rows("CNYIWA", day, t)
            if day != date(2026, 12, 31):
                _write(folder / f"CNYIWA_{ymd}.csv", _report_csv("CNYIWA", day, rows, day_text=f"{day.year}年{day.month}月{day.day}日"),
                       _mtime(day, 26))
            else:  # Yiwu's New Year's Eve report arrives with a wrong total row: rejected, not loaded
                bad_total = _totals(rows)
                bad_total[0] += 1
                _write(folder / f"CNYIWA_{ymd}.csv", _report_csv("CNYIWA", day, rows, total=bad_total), _mtime(day, 26))
            if day != date(2027, 1, 1):
                _write(landing / "customs_centre" / day.isoformat() / f"SZXKJ01_{ymd}.csv", _centre_csv(day, t),
                       _mtime(day, 26))
            rows = _office_rows("CNSHAA", day, t)
            _write(folder / f"CNSHAA_{ymd}.csv", _report_csv("CNSHAA", day, rows, total=_totals(rows)),
                   _mtime(day, 25))
            # a file still being copied: never read
            _write(folder / f"CNSHAA_{ymd}_resend.csv.part", _report_csv("CNSHAA", day, _office_rows("CNSHAA", day, t, 9.0)),
                   _mtime(day, 27))
    # CNSHAA 2026-12-30: a corrected delivery in the same run, later mtime, name sorting first,
    # without the transit rows: it replaces the first file as a whole
    d = date(2026, 12, 30)
    rows = [r for r in _office_rows("CNSHAA", d, (d - H_FIRST).days, 1.5) if r[0] != "transit"]
    _write(eo / d.isoformat() / "A_corrected_CNSHAA.csv", _report_csv("CNSHAA", d, rows, english=True), _mtime(d, 30))
    # CNSHAA 2026-12-31: a later delivery whose total row does not match: quarantined, the first stands
    d = date(2026, 12, 31)
    rows = _office_rows("CNSHAA", d, (d - H_FIRST).days, 2.0)
    bad_total = _totals(rows)
    bad_total[0] += 1
    _write(eo / d.isoformat() / "CNSHAA_20261231_v2.csv", _report_csv("CNSHAA", d, rows, total=bad_total), _mtime(d, 31))
    # a .tmp copy of a Beijing report with other numbers: never read
    _write(eo / "2026-12-30" / "CNBJSA_20261230.csv.tmp", _report_csv("CNBJSA", date(2026, 12, 30),
           _office_rows("CNBJSA", date(2026, 12, 30), 32, 5.0)), _mtime(date(2026, 12, 30), 30))

    events_by_folder, late = _events()
    for folder, evs in events_by_folder.items():
        _write_events(landing, folder, evs)
    phase2 = set()

    def write_phase2():
        # CNSHAA 2026-12-29 delivered again in a later run, copied with an OLDER mtime (cp -p):
        # "later means seen by a later run" (feeds.md), so it replaces the first delivery.
        d = date(2026, 12, 29)
        p = eo / d.isoformat() / "CNSHAA_20261229_v2.csv"
        _write(p, _report_csv("CNSHAA", d, _office_rows("CNSHAA", d, (d - H_FIRST).days, 0.5), english=True),
               _mtime(d, 20))
        phase2.add(p.relative_to(landing).as_posix())
        # CNBJSA 2026-12-30 overwritten in place with corrected numbers
        p = eo / "2026-12-30" / "CNBJSA-日报-2026-12-30.csv"
        rows = _office_rows("CNBJSA", date(2026, 12, 30), 32, 1.1)
        _write(p, _report_csv("CNBJSA", date(2026, 12, 30), rows, total=_totals(rows)), _mtime(date(2027, 1, 1), 30))
        phase2.add(p.relative_to(landing).as_posix())
        # Urumqi's missing 2026-12-27 arrives late
        d = date(2026, 12, 27)
        p = eo / d.isoformat() / "daily_report_CNURCA_20261227.csv"
        _write(p, _report_csv("CNURCA", d, _office_rows("CNURCA", d, (d - H_FIRST).days), english=True),
               _mtime(date(2027, 1, 1), 31))
        phase2.add(p.relative_to(landing).as_posix())
        # the reference is delivered again: Yiwu's expansion, finished on 2026-12-28, is recorded
        # after the fact; published days from 12-28 on must use the new capacity
        text = OFFICES.replace("CNYIWA,exchange_station,义乌国际邮件交换站,Yiwu,浙江,义乌,,300,2000,2020-01-01,\n",
                               "CNYIWA,exchange_station,义乌国际邮件交换站,Yiwu,浙江,义乌,,300,2000,2020-01-01,2026-12-27\n"
                               "CNYIWA,exchange_station,义乌国际邮件交换站,Yiwu,浙江,义乌,,450,2500,2026-12-28,\n")
        assert text != OFFICES
        _write(landing / "reference" / "offices.csv", text, _mtime(date(2027, 1, 1), 29))
        # late events, in an old date folder
        for folder, evs in late.items():
            p = _write_events(landing, folder, evs, name="late_resend.jsonl", mtime=_mtime(date(2027, 1, 1), 32))
            phase2.add(p.relative_to(landing).as_posix())

    return write_phase2, phase2


def _write_events(landing, folder: date, evs: list[dict], name=None, mtime=None):
    d = landing / "item_events" / folder.isoformat()
    d.mkdir(parents=True, exist_ok=True)
    mtime = mtime or _mtime(folder, 25)
    if name:
        p = d / name
        _write(p, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in evs), mtime)
        return p
    half = len(evs) // 2
    p1 = d / f"emsevt_{folder:%Y%m%d}_01.jsonl.gz"
    p1.write_bytes(gzip.compress("".join(json.dumps(e) + "\n" for e in evs[:half]).encode()))
    os.utime(p1, (mtime, mtime))
    fields = ["item_id", "event_code", "event_time", "office_code", "mail_class", "origin_country",
              "destination_country", "next_office_code", "retention_code"]
    lines = [",".join(fields)] + [",".join(str(e.get(f) or "") for f in fields) for e in evs[half:]]
    _write(d / f"emsevt_{folder:%Y%m%d}_02.csv", "\n".join(lines) + "\n", mtime + 60)
    # a duplicate of the whole first half in another file, and a half-written .part file
    p3 = d / f"emsevt_{folder:%Y%m%d}_03.jsonl"
    _write(p3, "".join(json.dumps(e) + "\n" for e in evs[:half]), mtime + 120)
    _write(d / f"emsevt_{folder:%Y%m%d}_04.jsonl.part",
           json.dumps(_ev(evs[0]["item_id"], "EDC", "2026-11-28T00:00:00", "CNBJSA")) + "\n", mtime + 180)
    return p1


def _events():
    """Events by date folder (phase 1) and late events (phase 2)."""
    f: dict[date, list] = {}

    def add(folder, *evs):
        f.setdefault(folder, []).extend(evs)
    D = date.fromisoformat
    BJ, UR = "CNBJSA", "CNURCA"
    # import at Beijing
    i1, i2, i3, i4, i5, i6, i8, i9 = (_s10() for _ in range(8))
    add(D("2026-12-29"), _ev(i1, "EMD", "2026-12-29T07:00:00", BJ), _ev(i1, "EDB", "2026-12-29T15:00:00+08:00", BJ))
    add(D("2026-12-30"), _ev(i1, "EDB", "2026-12-29T09:00:00", BJ),                # earlier EDB, arrives later
        _ev(i1, "EDC", "2026-12-30T10:00:00Z", BJ))                                 # 33 h
    add(D("2026-12-29"), _ev(i2, "EDB", "2026-12-29T10:00:00+08:00", BJ))
    add(D("2026-12-30"), _ev(i2, "EMF", "2026-12-30T08:00:00", BJ))               # no EDC: EMF, 22 h
    add(D("2026-12-30"), _ev(i3, "EDB", "2026-12-30T00:00:00Z", BJ),               # 08:00 local
        _ev(i3, "EDC", "2026-12-30T19:00:00-05:00", BJ))                            # exactly 24 h later
    add(D("2026-12-30"), _ev(i4, "EDB", "2026-12-30T09:00:00", BJ),
        _ev(i4, "EME", "2026-12-30T12:00:00", BJ, retention_code="EME"))
    add(D("2026-12-31"), _ev(i4, "EDC", "2026-12-31T16:00:00", BJ))               # held then released, 31 h
    add(D("2026-12-30"), _ev(i5, "EDB", "2026-12-30T11:00:00", BJ),               # never released
        _ev(i5, "EDC", "2026-12-30T25:00:00", BJ),                                  # impossible time: ignored
        _ev(i5, "EXZ", "2026-12-30T13:00:00", BJ),                                  # unknown code: ignored
        _ev(i5[:10] + str((int(i5[10]) + 1) % 10) + i5[11:], "EDC", "2026-12-30T14:00:00", BJ),  # bad S10
        _ev(i5, "EDC", "2026-12-30T15:00:00", "CNZZZA"))                            # unknown office
    add(D("2026-12-31"), _ev(i6, "EME", "2026-12-31T09:00:00", BJ, retention_code="EME"),  # presented by EME
        _ev(i6, "EDC", "2026-12-31T13:00:00", BJ))
    add(D("2026-12-31"), _ev(i8, "EDB", "2026-12-31T10:00:00", BJ))               # EDC arrives late
    add(D("2027-01-01"), _ev(i9, "EDC", "2027-01-01T09:00:00", BJ))               # EDB arrives late
    late = {D("2026-12-31"): [_ev(i8, "EDC", "2027-01-01T10:00:00", BJ),
                              _ev(i9, "EDB", "2026-12-31T20:00:00", BJ)]}
    # export at Beijing
    e1, e2 = _s10("CA"), _s10("CB")
    add(D("2026-12-30"), _ev(e1, "EXA", "2026-12-30T09:00:00", BJ, "US", "CN"),
        _ev(e1, "EXB", "2026-12-30T10:00:00", BJ, "US", "CN", retention_code="EXB"),
        _ev(e1, "EXC", "2026-12-30T20:00:00", BJ, "US", "CN"))
    add(D("2026-12-30"), _ev(e2, "EXA", "2026-12-30T22:00:00", BJ, "US", "CN"))
    add(D("2026-12-31"), _ev(e2, "EMC", "2026-12-31T02:00:00", BJ, "US", "CN", next_office_code="USJFKA"))
    # Urumqi (Asia/Urumqi, UTC+6): times without offset are Urumqi wall clock
    u1, u2, u3 = _s10("EB"), _s10("EC"), _s10("ED")
    add(D("2026-12-30"), _ev(u1, "EDB", "2026-12-30T22:00:00", UR, orig="KZ"),
        _ev(u1, "EDC", "2026-12-30T23:30:00", UR, orig="KZ"),                       # 12-30 in Urumqi
        _ev(u2, "EDB", "2026-12-30T20:00:00", UR, orig="KZ"),
        _ev(u2, "EDC", "2026-12-31T01:30:00+08:00", UR, orig="KZ"),                 # = 23:30 Urumqi, 12-30
        _ev(u3, "EDB", "2026-12-30T23:50:00", UR, orig="KZ"))
    add(D("2026-12-31"), _ev(u3, "EDC", "2026-12-31T00:10:00", UR, orig="KZ"))    # 12-31 in Urumqi
    # stays at an office, step by step (mart.office_stay_daily); Shanghai keeps Asia/Shanghai
    SH = "CNSHAA"
    s1, s2, s3, s4, s5, s6, s7, s8 = (_s10("EF") for _ in range(8))
    add(D("2027-01-02"),
        _ev(s1, "EMD", "2027-01-02T06:00:00", SH), _ev(s1, "EDB", "2027-01-02T09:00:00", SH),
        _ev(s1, "EME", "2027-01-02T10:00:00", SH, retention_code="EME"),
        _ev(s2, "EMD", "2027-01-02T07:00:00", SH), _ev(s2, "EDB", "2027-01-02T08:00:00", SH),
        _ev(s2, "EMF", "2027-01-02T20:00:00", SH),                                  # EMF without EDC
        _ev(s3, "EDB", "2027-01-02T10:00:00", SH), _ev(s3, "EDC", "2027-01-02T11:00:00", SH),
        _ev(s3, "EMF", "2027-01-02T15:00:00", SH),                                  # no EMD seen
        _ev(s4, "EMD", "2027-01-02T05:00:00", SH), _ev(s4, "EMF", "2027-01-02T23:00:00", SH),  # never presented
        _ev(s5, "EMD", "2027-01-02T05:00:00", SH), _ev(s5, "EDB", "2027-01-02T06:00:00", SH),
        _ev(s5, "EMF", "2027-01-02T07:00:00", SH), _ev(s5, "EDC", "2027-01-02T09:00:00", SH),  # released after leaving
        _ev(s6, "EMD", "2027-01-02T01:00:00", SH), _ev(s6, "EDB", "2027-01-02T02:00:00", SH),
        _ev(s6, "EMF", "2027-01-02T03:00:00", SH), _ev(s6, "EDC", "2027-01-02T04:00:00", SH),
        _ev(s6, "EMF", "2027-01-02T05:00:00", SH),                                  # the EMF after release counts
        _ev(s7, "EMB", "2027-01-02T08:00:00", SH, "US", "CN"), _ev(s7, "EXA", "2027-01-02T09:00:00", SH, "US", "CN"),
        _ev(s7, "EXC", "2027-01-02T12:00:00", SH, "US", "CN"),
        _ev(s7, "EMC", "2027-01-02T18:00:00", SH, "US", "CN", next_office_code="USJFKA"))
    add(D("2027-01-03"), _ev(s1, "EDC", "2027-01-03T08:00:00", SH), _ev(s1, "EMF", "2027-01-03T12:00:00", SH))
    add(D("2026-12-30"), _ev(s8, "EMF", "2026-12-30T18:00:00", BJ))               # its EMD arrives late
    # Urumqi: a stay ending at 23:30 Urumqi time (01:30 the next day in Beijing), one after midnight
    u4, u5 = _s10("EG"), _s10("EH")
    add(D("2027-01-02"), _ev(u4, "EMD", "2027-01-02T20:00:00", UR, orig="KZ"),
        _ev(u4, "EDB", "2027-01-02T21:00:00", UR, orig="KZ"), _ev(u4, "EDC", "2027-01-02T22:00:00", UR, orig="KZ"),
        _ev(u4, "EMF", "2027-01-03T01:30:00+08:00", UR, orig="KZ"),
        _ev(u5, "EMD", "2027-01-02T23:00:00", UR, orig="KZ"), _ev(u5, "EDB", "2027-01-02T23:30:00", UR, orig="KZ"))
    add(D("2027-01-03"), _ev(u5, "EDC", "2027-01-03T00:20:00", UR, orig="KZ"),
        _ev(u5, "EMF", "2027-01-03T00:40:00", UR, orig="KZ"))
    late[D("2026-12-31")].append(_ev(s8, "EMD", "2026-12-29T20:00:00", BJ))
    # outbound dispatches for lanes and destinations (US every month, DE Nov and Jan only)
    plan = [("2026-11-28T10:00:00", "US"), ("2026-11-29T11:00:00", "US"), ("2026-11-30T09:00:00", "DE"),
            ("2026-11-29T12:00:00", "DE"), ("2026-12-05T10:00:00", "US"), ("2026-12-30T10:00:00", "US"),
            ("2026-12-31T23:30:00", "US"), ("2026-12-31T16:30:00Z", "US"),      # 2027-01-01 00:30 local
            ("2027-01-01T08:00:00", "US"), ("2027-01-02T08:00:00", "DE"), ("2027-01-04T09:00:00", "US"),
            ("2027-01-03T23:00:00", "DE")]
    arrival = {"US": ("USJFKA", -5), "DE": ("DEFRAA", 1)}
    for k, (when, dest) in enumerate(plan):
        item = _s10("LX")
        local = datetime.fromisoformat(when.replace("Z", "+00:00"))
        local = local.astimezone(CN).replace(tzinfo=None) if local.tzinfo else local
        folder = local.date()
        evs = [_ev(item, "EMC", when, BJ, dest, "CN", next_office_code=arrival[dest][0])]
        if k == 6:  # dispatched from Shanghai first, then again from Beijing: the last EMC counts
            evs.append(_ev(item, "EMC", "2026-12-29T10:00:00", "CNSHAA", dest, "CN"))
        if k % 4 != 3:  # some never arrive
            office, off = arrival[dest]
            arr = local - timedelta(hours=8) + timedelta(hours=30 + 7 * k)
            evs.append(_ev(item, "EMD", (arr + timedelta(hours=off)).strftime("%Y-%m-%dT%H:%M:%S")
                           + f"{'+' if off >= 0 else '-'}{abs(off):02d}:00", office, dest, "CN"))
        if k == 5:  # an EMD in the destination before dispatch does not count
            evs.append(_ev(item, "EMD", "2026-12-29T10:00:00-05:00", "USJFKA", dest, "CN"))
        add(folder, *evs)
    return f, late


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    root = tmp_path_factory.mktemp("handmade")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    write_phase2, phase2 = build_handmade(landing)
    run_clearcap(landing, warehouse, CATCH_UP)
    write_phase2()
    run_clearcap(landing, warehouse, PHASE2_BEFORE, H_LAST)
    inp = R.load_landing(landing, run_of=lambda rel, day: 1 if rel in phase2 else 0,
                         night_of=lambda rel, day: max(day, PHASE2_BEFORE if rel in phase2 else CATCH_UP))
    expected = R.compute_marts(inp, R.date_range(H_FIRST, H_LAST))
    con = open_published(warehouse)
    yield con, expected
    con.close()


def _row(df, **keys):
    import polars as pl
    out = df.filter(pl.all_horizontal([pl.col(k) == v for k, v in keys.items()]))
    assert out.height == 1, (keys, out)
    return out.row(0, named=True)


def test_handmade_reference_encodes_the_spec(handmade):
    """The reference itself on the hand-computed cases (guards the comparison from agreeing on a
    shared misreading)."""
    _con, e = handmade
    dw, od = e["customs_dwell_daily"], e["office_daily"]
    bj30 = _row(dw, office_code="CNBJSA", release_date=date(2026, 12, 30), direction="inbound")
    assert bj30["n_released"] == 2 and bj30["dwell_max_h"] == 33.0 and bj30["share_within_24h"] == 0.5  # i1 33h, i2 22h
    bj31 = _row(dw, office_code="CNBJSA", release_date=date(2026, 12, 31), direction="inbound")
    assert sorted([bj31["dwell_mean_h"] * 3]) == [24.0 + 31.0 + 4.0]  # i3 24h, i4 31h, i6 4h
    assert bj31["share_within_24h"] == pytest.approx(2 / 3) and bj31["n_retained"] == 2
    # presented on or before 12-31, not released by its end: i5, i8 (EDC 01-01), i9 (EDB 12-31 20:00)
    assert bj31["in_customs_close"] == 3
    ur = _row(dw, office_code="CNURCA", release_date=date(2026, 12, 30), direction="inbound")
    assert ur["n_released"] == 2 and ur["in_customs_close"] == 1
    out31 = _row(dw, office_code="CNBJSA", release_date=date(2026, 12, 31), direction="outbound")
    assert out31["n_released"] == 1 and out31["dwell_p50_h"] == 4.0
    lanes = e["lane_weekly"]
    us53 = _row(lanes, origin_office="CNBJSA", destination_country="US", iso_week="2026-W53")
    assert us53["items_dispatched"] == 5  # 12-30, 12-31 (re-dispatched), 12-31 02:00 (e2), 01-01 (x2)
    dm = e["destination_monthly"]
    assert _row(dm, destination_country="DE", month="2027-01")["growth_mom"] is None
    assert _row(dm, destination_country="US", month="2027-01")["growth_mom"] is not None
    yiwu31 = _row(od, office_code="CNYIWA", report_date=date(2026, 12, 31), direction="inbound")
    assert not yiwu31["reported"] and yiwu31["missing_reason"] == "rejected"
    assert _row(od, office_code="CNBJSA", report_date=date(2026, 12, 31), direction="inbound")["missing_reason"] is None
    cd = e["centre_daily"]
    assert _row(cd, centre_code="SZXKJ01", report_date=date(2027, 1, 1), direction="inbound")["missing_reason"] \
        == "not_received"
    assert _row(od, office_code="CNBJSA", report_date=date(2027, 1, 1), direction="inbound")["capacity_per_day"] == 1500
    assert _row(od, office_code="CNBJSA", report_date=date(2026, 12, 31), direction="outbound")["capacity_per_day"] == 2000
    assert _row(od, office_code="CNYIWA", report_date=date(2026, 12, 28), direction="inbound")["capacity_per_day"] == 450
    # redeliveries: CNSHAA 12-29 from the later run (factor 0.5), 12-30 the corrected file without
    # transit, 12-31 the first file (the second failed its total row)
    assert _row(od, office_code="CNSHAA", report_date=date(2026, 12, 29), direction="inbound")["items_received"] == \
        sum(r[2] for r in _office_rows("CNSHAA", date(2026, 12, 29), 31, 0.5) if r[0] == "inbound")
    assert od.filter((od["office_code"] == "CNSHAA") & (od["report_date"] == date(2026, 12, 30))).height == 2
    assert _row(od, office_code="CNSHAA", report_date=date(2026, 12, 31), direction="inbound")["items_received"] == \
        sum(r[2] for r in _office_rows("CNSHAA", date(2026, 12, 31), 33) if r[0] == "inbound")
    assert _row(od, office_code="CNURCA", report_date=date(2026, 12, 27), direction="inbound")["reported"]
    assert _row(od, office_code="CNBJSA", report_date=date(2026, 12, 29), direction="transit")["release_rate"] is None


def test_handmade_reference_encodes_stays(handmade):
    """The stay steps computed by hand for the handmade items (docs/office-stay.md)."""
    _con, e = handmade
    st = e["office_stay_daily"]
    sh = _row(st, scope="office", office_code="CNSHAA", departure_date=date(2027, 1, 2), direction="inbound")
    # s2 EMF without EDC (12 h in customs, 0 h after), s3 no EMD, s4 never presented, s5 released
    # after leaving, s6 left at the EMF after its release
    assert (sh["n_items"], sh["n_missing_arrival"], sh["n_missing_release"]) == (5, 1, 2)
    assert (sh["customs_n"], sh["customs_mean_h"]) == (3, pytest.approx((12 + 1 + 2) / 3))
    assert (sh["after_release_n"], sh["after_release_p50_h"]) == (3, 1.0)
    assert (sh["to_customs_n"], sh["to_customs_mean_h"]) == (2, 1.0)          # s2 1 h, s6 1 h
    assert (sh["stay_n"], sh["stay_p50_h"], sh["stay_share_within_24h"]) == (4, 8.5, 1.0)  # 13, 18, 2, 4
    s1 = _row(st, scope="office", office_code="CNSHAA", departure_date=date(2027, 1, 3), direction="inbound")
    assert (s1["n_items"], s1["stay_p50_h"], s1["customs_p50_h"], s1["stay_share_within_24h"],
            s1["stay_share_within_48h"]) == (1, 30.0, 23.0, 0.0, 1.0)
    out = _row(st, scope="office", office_code="CNSHAA", departure_date=date(2027, 1, 2), direction="outbound")
    assert (out["n_items"], out["to_customs_p50_h"], out["customs_p50_h"], out["after_release_p50_h"]) == (1, 1.0, 3.0, 6.0)
    # Urumqi's clock: left at 23:30 local on 01-02 (01:30 on 01-03 in Beijing); the other after midnight
    u4 = _row(st, scope="office", office_code="CNURCA", departure_date=date(2027, 1, 2), direction="inbound")
    assert (u4["n_items"], u4["stay_p50_h"]) == (1, 3.5)
    u5 = _row(st, scope="office", office_code="CNURCA", departure_date=date(2027, 1, 3), direction="inbound")
    assert u5["stay_p50_h"] == pytest.approx(100 / 60)
    # the late EMD of s8 (loaded two nights later) completes its stay; i2 has no EMD
    bj = _row(st, scope="office", office_code="CNBJSA", departure_date=date(2026, 12, 30), direction="inbound")
    assert (bj["n_items"], bj["n_missing_arrival"], bj["n_missing_release"], bj["stay_p50_h"]) == (2, 1, 1, 22.0)
    nat = _row(st, scope="national", departure_date=date(2027, 1, 2), direction="inbound")
    assert (nat["n_items"], nat["stay_n"]) == (6, 5)   # over all items: Shanghai's five and u4
    assert nat["stay_p50_h"] == 4.0                    # median of 13, 18, 2, 4, 3.5, not of office medians


@pytest.mark.parametrize("table", TABLES)
def test_handmade_mart_matches_reference(handmade, table):
    con, expected = handmade
    _assert_same(con, expected, [table])


def test_demo_briefing_leads_with_few_changes(demo):
    """The demo's last morning reads like a real one: a handful of new, escalated or resolved
    alerts first, the standing conditions one line per kind."""
    from transforms.analyst import briefing

    con, _ = demo
    text = briefing(con, None)
    alerts = text[text.index("Alerts 告警"):].splitlines()
    lead = [ln for ln in alerts if ln.startswith(("[new", "[escalated", "[resolved"))]
    states = dict(con.execute("""SELECT state, count(*) FROM mart.alerts
                                 WHERE as_of_date = (SELECT max(as_of_date) FROM mart.alerts)
                                 GROUP BY state""").fetchall())
    assert len(lead) == states.get("new", 0) + states.get("escalated", 0) + states.get("resolved", 0)
    assert 1 <= len(lead) <= 10, text
    # what continues is summarised, one line per kind, after what changed
    cont = [ln for ln in alerts if "continuing 持续 (" in ln]
    assert len(cont) == len(set(con.execute(
        "SELECT kind FROM mart.alerts WHERE state = 'continuing' AND as_of_date = "
        "(SELECT max(as_of_date) FROM mart.alerts)").fetchall()))
    assert states.get("continuing", 0) > 0 and alerts.index(cont[0]) > alerts.index(lead[-1])
