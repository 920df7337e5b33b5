"""The seeded demo generator writes a landing zone that follows feeds.md, with its quirks listed.

The checks here re-implement what they verify (S10 check digit, report parsing, event order)
rather than reuse the generator's code.
"""
from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import os
import re
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from transforms.demo import generate
from transforms.cli import main as cli_main

START = date(2026, 3, 2)
DAYS = 5
SCALE = 0.05
FEEDS = ("reference", "exchange_office", "customs_centre", "item_events")
TOTAL_LABELS = {"合计", "总计", "Total"}
DATE_PATTERNS = [("%Y-%m-%d", r"\d{4}-\d\d-\d\d"), ("%Y/%m/%d", r"\d{4}/\d\d/\d\d"),
                 ("%Y%m%d", r"\d{8}"), ("%Y年%m月%d日", r"\d{4}年\d\d月\d\d日")]
IMPORT_ORDER = {"EMD": 0, "EDB": 1, "EME": 2, "EDC": 3, "EMF": 4}
EXPORT_ORDER = {"EMA": 0, "EMB": 1, "EXA": 2, "EXB": 3, "EXC": 4, "EMC": 5, "EMD": 6}
KNOWN_CODES = set(IMPORT_ORDER) | set(EXPORT_ORDER)


# ---------- independent helpers ----------

def s10_valid(item_id: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", item_id):
        return False
    total = sum(int(d) * w for d, w in zip(item_id[2:10], (8, 6, 4, 2, 3, 5, 9, 7)))
    c = 11 - total % 11
    return int(item_id[10]) == {10: 0, 11: 5}.get(c, c)


def test_s10_helper_vectors():
    for good in ("RR000164273KH", "EE123456785CN", "EA123456140CN", "LX123456025CN"):
        assert s10_valid(good)
    assert not s10_valid("EE123456784CN")


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def report_grid(path: Path) -> list[list]:
    """All rows of a report as lists of cells (strings or spreadsheet values)."""
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    return [row for row in csv.reader(io.StringIO(decode(path.read_bytes())))]


def report_table(path: Path) -> tuple[list[str], list[list], list | None]:
    """(header, data rows, total row) skipping title and blank lines."""
    grid = [r for r in report_grid(path) if any(c not in (None, "") for c in r)]
    h = next(i for i, r in enumerate(grid) if "日期" in r or "report_date" in r)
    header, rows, total = [str(c) for c in grid[h]], [], None
    for r in grid[h + 1:]:
        first = next(str(c).strip() for c in r if c not in (None, ""))
        if first in TOTAL_LABELS:
            total = r
        else:
            rows.append(r)
    return header, rows, total


def to_date(cell) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    for fmt, _ in DATE_PATTERNS:
        try:
            return datetime.strptime(str(cell).strip(), fmt).date()
        except ValueError:
            pass
    raise ValueError(cell)


def to_number(cell):
    if cell is None or isinstance(cell, (int, float)):
        return cell
    text = str(cell).strip().replace(",", "")
    return None if text in ("", "-") else float(text)


def read_events(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8")
    if ".jsonl" in path.name:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def utc_of(event_time: str, office_offset_h: int) -> datetime:
    wall = datetime.fromisoformat(event_time[:19])
    rest = event_time[19:]
    if rest == "Z":
        return wall
    if rest:
        sign = 1 if rest[0] == "+" else -1
        return wall - sign * timedelta(hours=int(rest[1:3]), minutes=int(rest[4:6]))
    return wall - timedelta(hours=office_offset_h)


def local_date(event_time: str, office_offset_h: int) -> date:
    rest = event_time[19:]
    if rest == "Z":
        return (datetime.fromisoformat(event_time[:19]) + timedelta(hours=office_offset_h)).date()
    return datetime.fromisoformat(event_time[:19]).date()  # naive or the office's own offset


# ---------- fixtures ----------

@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate(root, start=START, days=DAYS, seed=11, scale=SCALE)


@pytest.fixture(scope="module")
def reference(landing):
    root, _ = landing
    with open(root / "reference" / "offices.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def events(landing):
    """Every readable event with its file, skipping .part and the listed truncated file."""
    root, summary = landing
    unreadable = {q["path"] for q in summary["quirks"] if q["kind"] == "truncated_gz"}
    out = []
    for p in sorted((root / "item_events").rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.name.endswith(".part") and rel not in unreadable:
            for e in read_events(p):
                e["_file"] = rel
                out.append(e)
    return out


def offsets(reference) -> dict[str, int]:
    return {r["office_code"]: (6 if r["tz"] == "Asia/Urumqi" else 8) for r in reference}


def files(root: Path) -> dict[str, tuple[bytes, float]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime)
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------- tests ----------

def test_same_seed_same_bytes_and_mtimes(landing, tmp_path):
    root, summary = landing
    again = generate(tmp_path, start=START, days=DAYS, seed=11, scale=SCALE)
    assert files(root) == files(tmp_path)
    assert again["quirks"] == summary["quirks"]
    other = generate(tmp_path / "other", start=START, days=DAYS, seed=12, scale=SCALE)
    assert files(tmp_path / "other") != files(root)
    assert other["items"] == summary["items"]


def test_layout_and_counts(landing):
    root, summary = landing
    assert sorted(p.name for p in root.iterdir()) == sorted(FEEDS)
    days = {(START + timedelta(days=i)).isoformat() for i in range(DAYS)}
    for feed in FEEDS[1:]:
        assert {p.name for p in (root / feed).iterdir()} == days
    ok = re.compile(r".+\.(csv|xlsx|jsonl|jsonl\.gz|csv\.gz|jsonl\.part)$")
    listed = [p for p in root.rglob("*") if p.is_file()]
    assert all(ok.match(p.name) for p in listed)
    for feed, n in summary["files"].items():
        assert n == sum(1 for p in (root / feed).rglob("*") if p.is_file()), feed
    assert summary["items"] == round(300_000 * SCALE)
    assert summary["events"] > 3 * summary["items"]


def test_reference_offices(reference):
    assert list(reference[0]) == ["office_code", "office_type", "name_zh", "name_en", "province", "city", "tz",
                                  "capacity_in_per_day", "capacity_out_per_day", "valid_from", "valid_to"]
    types = Counter(r["office_type"] for r in reference)
    assert types["exchange_office"] + types["exchange_station"] >= 20 and types["exchange_station"] >= 2
    centres = [r for r in reference if r["office_type"] == "express_supervision_centre"]
    assert len(centres) >= 5 and all(re.fullmatch(r"[A-Z0-9]{4,12}", r["office_code"]) for r in centres)
    assert all(re.fullmatch(r"CN[A-Z]{3}[A-Z0-9]", r["office_code"]) for r in reference if r not in centres)
    assert "CNMLXA" in {r["office_code"] for r in reference}  # a land-border office
    assert {r["office_code"]: r["tz"] for r in reference}["CNURCA"] == "Asia/Urumqi"
    by_code = defaultdict(list)
    for r in reference:
        by_code[r["office_code"]].append(r)
    changed = [rows for rows in by_code.values() if len(rows) > 1]
    assert len(changed) == 1
    old, new = sorted(changed[0], key=lambda r: r["valid_from"])
    assert date.fromisoformat(old["valid_to"]) + timedelta(days=1) == date.fromisoformat(new["valid_from"])
    assert new["valid_to"] == "" and int(new["capacity_in_per_day"]) > int(old["capacity_in_per_day"])
    assert START <= date.fromisoformat(new["valid_from"]) < START + timedelta(days=DAYS)


def test_every_listed_quirk_is_on_disk(landing, events, reference):
    root, summary = landing
    kinds = Counter(q["kind"] for q in summary["quirks"])
    expected = {"gb18030", "utf8_bom", "title_line", "blank_lines", "total_row", "total_mismatch", "xlsx",
                "xlsx_date_cells", "thousands_separator", "null_markers", "date_format", "redelivery",
                "late_file", "duplicate_event_same_file", "duplicate_event_other_file", "bad_s10_check_digit",
                "unknown_event_code", "unknown_office", "negative_count", "date_outside_folder",
                "impossible_timestamp", "truncated_gz", "not_a_spreadsheet", "part_file", "missing_office_day",
                "extra_column", "english_header", "column_order"}
    assert expected <= set(kinds), expected - set(kinds)
    known = {r["office_code"] for r in reference}
    by_file = defaultdict(list)
    for e in events:
        by_file[e["_file"]].append(e)
    for q in summary["quirks"]:
        p = root / q["path"]
        assert p.exists(), q
        k, data = q["kind"], (p.read_bytes() if p.is_file() else b"")
        if k == "gb18030":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            assert "日期" in data.decode("gb18030")
        elif k == "utf8_bom":
            assert data.startswith(b"\xef\xbb\xbf")
        elif k in ("xlsx", "xlsx_date_cells"):
            grid = report_grid(p)
            if k == "xlsx_date_cells":
                assert any(isinstance(c, datetime) for r in grid for c in r)
        elif k == "not_a_spreadsheet":
            assert not zipfile.is_zipfile(p)
        elif k == "truncated_gz":
            with pytest.raises((EOFError, OSError)):
                gzip.decompress(data)
        elif k == "part_file":
            assert p.name.endswith(".part")
        elif k in ("total_row", "total_mismatch"):
            header, rows, total = report_table(p)
            cols = [j for j, c in enumerate(total) if j > 0 and to_number(c) is not None]
            equal = all(abs(sum(to_number(r[j]) or 0 for r in rows) - to_number(total[j])) < 0.05 for j in cols)
            assert equal == (k == "total_row"), q
        elif k == "thousands_separator":
            assert re.search(r'"\s*\d{1,3}(,\d{3})+(\.\d+)?\s*"', decode(data))
        elif k == "title_line":
            assert q["detail"] in str(report_grid(p)[0][0])
        elif k == "blank_lines":
            assert any(all(c in (None, "") for c in r) for r in report_grid(p))
        elif k == "null_markers":
            _, rows, _ = report_table(p)
            assert any(c in ("-", "", None) for r in rows for c in r)
        elif k == "date_format":
            pattern = dict(DATE_PATTERNS)[q["detail"]]
            assert re.search(pattern, decode(data))
        elif k == "redelivery":
            before = root / q["replaces"]
            assert before.parent == p.parent and before.stat().st_mtime < p.stat().st_mtime
            assert report_table(before)[1] != report_table(p)[1]
        elif k == "late_file":
            assert p.stat().st_mtime - calendar.timegm(date.fromisoformat(p.parent.name).timetuple()) > 2 * 86400
        elif k == "missing_office_day":
            assert not any(q["office_code"] in f.name for f in p.iterdir())
        elif k in ("negative_count", "date_outside_folder"):
            header, rows, _ = report_table(p)
            row = rows[q["row"] - 1]
            if k == "negative_count":
                j = header.index("查验件数") if "查验件数" in header else header.index("items_inspected")
                assert to_number(row[j]) < 0
            elif k == "date_outside_folder":
                j = header.index("日期") if "日期" in header else header.index("report_date")
                assert to_date(row[j]) == date.fromisoformat(p.parent.name) - timedelta(days=1)
        elif k == "unknown_office" and "exchange_office" in q["path"]:
            _, rows, _ = report_table(p)
            assert any(c not in known and re.fullmatch(r"CN[A-Z]{4}", str(c)) for r in rows for c in r)
        elif k in ("unknown_office", "unknown_event_code", "impossible_timestamp", "duplicate_event_same_file",
                   "duplicate_event_other_file"):
            key = (q["item_id"], q["event_code"], q["event_time"], q["office_code"])
            same = [e for e in by_file[q["path"]]
                    if (e["item_id"], e["event_code"], e["event_time"], e["office_code"]) == key]
            assert same, q
            if k == "unknown_office":
                assert q["office_code"] not in known and q["office_code"].startswith("CN")
            if k == "unknown_event_code":
                assert q["event_code"] not in KNOWN_CODES
            if k == "impossible_timestamp":
                with pytest.raises(ValueError):
                    datetime.fromisoformat(q["event_time"][:19])
            if k == "duplicate_event_same_file":
                assert len(same) >= 2
            if k == "duplicate_event_other_file":
                elsewhere = [e for e in events if e["_file"] != q["path"] and
                             (e["item_id"], e["event_code"], e["event_time"], e["office_code"]) == key]
                assert elsewhere and all(Path(e["_file"]).parent == Path(q["path"]).parent for e in elsewhere)


def test_s10_check_digits_valid_except_injected(landing, events):
    _, summary = landing
    bad = {q["item_id"] for q in summary["quirks"] if q["kind"] == "bad_s10_check_digit"}
    invalid = {e["item_id"] for e in events if not s10_valid(e["item_id"])}
    assert bad and invalid == bad


def test_mail_class_matches_s10_prefix(events):
    expected = {"E": "E", "C": "C", "H": "C", "R": "U", "L": "U", "U": "U", "V": "U"}
    assert all(expected[e["item_id"][0]] == e["mail_class"] for e in events)


def test_event_sequences_follow_spec_order(events, reference):
    off = offsets(reference)
    foreign_off = {}
    timeline = defaultdict(list)
    for e in events:
        if e["event_code"] not in KNOWN_CODES or e["event_time"][11:13] == "25" or e["office_code"] == "CNXYZA":
            continue
        export = e["origin_country"] == "CN"
        rank = (EXPORT_ORDER if export else IMPORT_ORDER)[e["event_code"]]
        if not e["office_code"].startswith("CN"):
            assert export and e["event_code"] == "EMD" and e["event_time"][19:] not in ("", "Z")
            foreign_off[e["office_code"]] = 0
        timeline[e["item_id"]].append((utc_of(e["event_time"], off.get(e["office_code"], 0)), rank))
    assert foreign_off, "some exports arrive abroad within the period"
    multi = 0
    for item, evs in timeline.items():
        ranks = [r for _, r in sorted(set(evs))]
        assert ranks == sorted(ranks), (item, sorted(set(evs)))
        multi += len(set(evs)) >= 4
    assert multi > 0.5 * len(timeline)


def test_events_in_their_local_day_folder_and_spread_over_days(events, reference):
    off = offsets(reference)
    folders_per_item = defaultdict(set)
    for e in events:
        if e["event_time"][11:13] == "25":
            continue
        folder = date.fromisoformat(Path(e["_file"]).parent.name)
        assert local_date(e["event_time"], off.get(e["office_code"], 8)) == folder, e
        folders_per_item[e["item_id"]].add(folder)
    assert sum(len(f) > 1 for f in folders_per_item.values()) > 0.1 * len(folders_per_item)
    notations = Counter("Z" if e["event_time"].endswith("Z") else ("offset" if len(e["event_time"]) > 19 else "local")
                        for e in events)
    assert notations["local"] > notations["offset"] > 0 and notations["Z"] > 0


def test_report_dates_match_folders_and_numbers_are_consistent(landing, reference):
    root, summary = landing
    outside = {q["path"] for q in summary["quirks"] if q["kind"] == "date_outside_folder"}
    broken = {q["path"] for q in summary["quirks"] if q["kind"] in ("not_a_spreadsheet", "negative_count")}
    cap = {r["office_code"]: int(r["capacity_in_per_day"]) for r in reference}
    seen_dates = 0
    for p in sorted((root / "exchange_office").rglob("*.*")) + sorted((root / "customs_centre").rglob("*.*")):
        rel = p.relative_to(root).as_posix()
        if rel in broken:
            continue
        header, rows, _ = report_table(p)
        j = header.index("日期") if "日期" in header else header.index("report_date")
        dates = {to_date(r[j]) for r in rows}
        seen_dates += 1
        if rel in outside:
            assert len(dates) == 2
        else:
            assert dates == {date.fromisoformat(p.parent.name)}, rel
        if "exchange_office" in rel:
            col = {h: i for i, h in enumerate(header)}
            pres = col.get("交验件数", col.get("items_presented"))
            insp = col.get("查验件数", col.get("items_inspected"))
            for r in rows:
                if to_number(r[pres]) is not None and to_number(r[insp]) is not None:
                    assert to_number(r[insp]) <= to_number(r[pres])
    assert seen_dates > 100
    # feed A: an office-day report per exchange office per day, but for the one missing
    expected = {r["office_code"] for r in reference if r["office_type"] != "express_supervision_centre"}
    missing = [q for q in summary["quirks"] if q["kind"] == "missing_office_day"]
    assert len(missing) == 1
    for d in (root / "exchange_office").iterdir():
        present = {c for c in expected if any(c in f.name for f in d.iterdir())}
        gone = {q["office_code"] for q in missing if q["path"].endswith(d.name)}
        assert present == expected - gone
    assert cap["CNMLXA"] > 0


def test_mtimes_next_night_and_redeliveries_later(landing):
    root, summary = landing
    odd = {q["path"] for q in summary["quirks"] if q["kind"] in ("late_file", "redelivery", "not_a_spreadsheet",
                                                                   "truncated_gz", "part_file")}
    for feed in FEEDS[1:]:
        for p in (root / feed).rglob("*.*"):
            if p.relative_to(root).as_posix() in odd:
                continue
            day = datetime.fromisoformat(p.parent.name)
            # next day ~01:00-04:00 local (UTC+8, +6 for Urumqi): between day 16:00 and 21:00 UTC
            lag_h = (p.stat().st_mtime - calendar.timegm(day.timetuple())) / 3600
            assert 16 <= lag_h <= 21, (p, lag_h)


def test_load_factor_above_085_appears(tmp_path):
    summary = generate(tmp_path, start=date(2026, 10, 20), days=30, seed=3, scale=0.01, quirks=False)
    assert summary["quirks"] == []
    with open(tmp_path / "reference" / "offices.csv", encoding="utf-8") as f:
        ref = list(csv.DictReader(f))
    hot = 0
    for p in (tmp_path / "exchange_office").rglob("*.csv"):
        p.read_bytes().decode("utf-8")  # clean run: plain UTF-8
        header, rows, total = report_table(p)
        assert header[0] == "日期" and total is None
        code, day = rows[0][1], p.parent.name
        for direction, cap_col in (("出口", "capacity_out_per_day"), ("进口", "capacity_in_per_day")):
            received = sum(int(r[header.index("接收件数")]) for r in rows if r[2] == direction)
            cap = next(int(r[cap_col]) for r in ref if r["office_code"] == code and r["valid_from"] <= day
                       and (r["valid_to"] == "" or r["valid_to"] >= day))
            hot += received / cap > 0.85
    assert hot > 0
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.xlsx"))


def test_cli_writes_landing(tmp_path, capsys):
    assert cli_main(["demo", "--landing", str(tmp_path), "--start", "2026-01-05", "--days", "2",
                     "--scale", "0.01"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["start"] == "2026-01-05" and out["end"] == "2026-01-06" and out["landing"] == str(tmp_path)
    assert out["events"] > 0 and (tmp_path / "item_events" / "2026-01-06").is_dir()
    assert (tmp_path / "reference" / "offices.csv").exists()


def test_default_period_ends_yesterday(tmp_path):
    summary = generate(tmp_path, days=2, scale=0.001)
    assert summary["end"] == (date.today() - timedelta(days=1)).isoformat()
    assert sorted(os.listdir(tmp_path / "exchange_office"))[-1] == summary["end"]
