"""Reference reader (offices.csv) and landing-path detection."""
from datetime import date

import polars as pl
import pytest

from transforms.readers import detect_feed, is_ready, overlapping_periods, read_reference

HEADER = "office_code,office_type,name_zh,name_en,province,city,tz,capacity_in_per_day,capacity_out_per_day,valid_from,valid_to"


def write(tmp_path, lines):
    p = tmp_path / "offices.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_types_default_tz_and_open_end(tmp_path):
    p = write(tmp_path, [HEADER,
                         "CNBJSA,exchange_office,北京国际邮件互换局,Beijing,北京,北京,,\"120,000\",90000,2020-01-01,2026-06-30",
                         "CNURCA,exchange_office,乌鲁木齐,Urumqi,新疆,乌鲁木齐,Asia/Urumqi,5000,4000,2020-01-01,"])
    res = read_reference(p)
    assert res.file_error is None
    r = res.rows
    assert r["tz"].to_list() == ["Asia/Shanghai", "Asia/Urumqi"]
    assert r["capacity_in_per_day"].to_list() == [120000, 5000]
    assert r.schema["capacity_out_per_day"] == pl.Int64 and r.schema["valid_from"] == pl.Date
    assert r["valid_to"].to_list() == [date(2026, 6, 30), None]
    assert r["name_zh"][0] == "北京国际邮件互换局"
    assert res.totals.height == 0


def test_bad_capacity_and_date_are_quarantined(tmp_path):
    p = write(tmp_path, [HEADER,
                         "CNBJSA,exchange_office,北京,Beijing,北京,北京,,lots,1,2020-01-01,",
                         "CNSHAA,exchange_office,上海,Shanghai,上海,上海,,1,1,,",
                         "CNCANA,exchange_office,广州,Guangzhou,广东,广州,,1,1,2020-01-01,"])
    res = read_reference(p)
    assert res.quarantine["rule"].to_list() == ["invalid_number", "invalid_date"]
    assert res.quarantine["_line"].to_list() == [2, 3]
    assert res.rows["office_code"].to_list() == ["CNCANA"]


def test_missing_required_reference_column(tmp_path):
    p = write(tmp_path, ["office_code,office_type,name_en,capacity_in_per_day", "CNBJSA,exchange_office,Beijing,1"])
    res = read_reference(p)
    assert res.file_error[0] == "no_header" and "valid_from" in res.file_error[1]


def test_overlapping_periods(tmp_path):
    p = write(tmp_path, [HEADER,
                         "CNBJSA,exchange_office,北京,Beijing,北京,北京,,1,1,2020-01-01,2025-12-31",
                         "CNBJSA,exchange_office,北京,Beijing,北京,北京,,2,2,2026-01-01,",
                         "CNSHAA,exchange_office,上海,Shanghai,上海,上海,,1,1,2020-01-01,",
                         "CNSHAA,exchange_office,上海,Shanghai,上海,上海,,2,2,2026-01-01,"])
    rows = read_reference(p).rows
    bad = overlapping_periods(rows)
    assert bad["office_code"].to_list() == ["CNSHAA", "CNSHAA"]  # open-ended period overlaps the later one
    assert bad["_line"].to_list() == [4, 5]


@pytest.mark.parametrize("rel,expected", [
    ("reference/offices.csv", ("reference", None)),
    ("exchange_office/2026-11-25/bj.csv", ("exchange_office", date(2026, 11, 25))),
    ("exchange_office/2026-11-25/bj.XLSX", ("exchange_office", date(2026, 11, 25))),
    ("customs_centre/2026-11-24/sz.xlsx", ("customs_centre", date(2026, 11, 24))),
    ("item_events/2026-11-25/part-001.jsonl.gz", ("item_events", date(2026, 11, 25))),
    ("item_events/2026-11-25/part-001.jsonl", ("item_events", date(2026, 11, 25))),
    ("item_events/2026-11-25/part-001.csv.gz", ("item_events", date(2026, 11, 25))),
    ("item_events/2026-11-25/part-001.jsonl.gz.part", None),
    ("exchange_office/2026-11-25/bj.csv.tmp", None),
    ("exchange_office/2026-02-30/bj.csv", None),
    ("exchange_office/bj.csv", None),
    ("item_events/2026-11-25/x.xlsx", None),
    ("other/2026-11-25/x.csv", None),
])
def test_detect_feed(rel, expected):
    assert detect_feed(rel) == expected


def test_is_ready():
    assert is_ready("a.csv") and is_ready("events.jsonl.gz")
    assert not is_ready("a.csv.part") and not is_ready("a.csv.TMP")
