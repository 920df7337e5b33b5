"""Bad input that used to change the published numbers (issue 13, findings 2-5): a reference
with an unreadable row, event times outside any plausible window, events at sites that are not
offices of exchange on that day, and naive times read with the wrong period's time zone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline_helpers import START, day, paths_for, q, snapshot
from transforms import pipeline
from transforms.config import EVENT_LOOKBACK_DAYS
from transforms.demo import generate
from transforms.demo.s10 import check_digits
from transforms.readers import read_reference

REVIEW_FILE = f"item_events/{day(2)}/review.jsonl"
# Sites added to the demo reference: one closed before the demo starts, one that declares
# Asia/Urumqi from day 2 (Asia/Shanghai before).
EXTRA_OFFICES = [
    f'CNTSTA,exchange_office,测试互换局,Closed Office,北京,北京,"",1000,1000,2020-01-01,{day(0)}',
    f'CNTZZA,exchange_office,喀什测试互换局,Zone Office,新疆,喀什,"",1000,1000,2020-01-01,{day(1)}',
    f'CNTZZA,exchange_office,喀什测试互换局,Zone Office,新疆,喀什,Asia/Urumqi,1000,1000,{day(2)},""',
]


def s10(serial: int, prefix: str = "EE", country: str = "US") -> str:
    return f"{prefix}{serial:08d}{int(check_digits(np.array([serial]))[0])}{country}"


def event(item: str, code: str, time: str, office: str, **kw) -> dict:
    inbound = code.startswith("ED") or code in ("EME", "EMD")
    row = dict(item_id=item, event_code=code, event_time=time, office_code=office,
               next_office_code=None, mail_class="E",
               origin_country="US" if inbound else "CN", destination_country="CN" if inbound else "JP",
               weight_g=None, retention_code=None, reason_code=None, action_code=None)
    row.update(kw)
    return row


# (case, event, expected rule or None when it must load); the file's line = position + 1
D1, D2, D3 = day(1), day(2), day(3)
EVENTS = [
    # before CNBJSA's validity too: both rules are recorded
    ("scanner_reset", event(s10(10000001), "EDB", "2000-01-01T00:00:00", "CNBJSA"),
     "timestamp_out_of_window unknown_office"),
    ("scanner_reset", event(s10(10000001), "EDC", f"{D2}T10:00:00", "CNBJSA"), None),
    ("future", event(s10(10000002), "EDB", "2099-06-01T08:00:00", "CNBJSA"), "timestamp_out_of_window"),
    ("after_night", event(s10(10000003), "EDB", f"{D3}T08:00:00", "CNBJSA"), "timestamp_out_of_window"),
    # an offset time may fall on the next local day (clock and zone tolerance); foreign offices pass
    ("lane", event(s10(10000004, country="CN"), "EMC", f"{D2}T20:00:00", "CNSHAA"), None),
    ("lane", event(s10(10000004, country="CN"), "EMD", f"{D3}T01:30:00+09:00", "JPTYOA"), None),
    ("centre", event(s10(10000005), "EDB", f"{D2}T10:00:00", "SZXKJ01"), "unknown_office"),
    ("centre", event(s10(10000005), "EDC", f"{D2}T12:00:00", "SZXKJ01"), "unknown_office"),
    ("closed", event(s10(10000006), "EDB", f"{D2}T10:00:00", "CNTSTA"), "unknown_office"),
    ("closed", event(s10(10000006), "EDC", f"{D2}T12:00:00", "CNTSTA"), "unknown_office"),
    # day 1 (Asia/Shanghai): naive 10:00 and 12:00+08:00 are 2 h apart
    ("tz_day1", event(s10(10000007), "EDB", f"{D1}T10:00:00", "CNTZZA"), None),
    ("tz_day1", event(s10(10000007), "EDC", f"{D1}T12:00:00+08:00", "CNTZZA"), None),
    # day 2 (Asia/Urumqi): naive 10:00 is 04:00Z, 13:00+08:00 is 05:00Z: 1 h
    ("tz_day2", event(s10(10000008), "EDB", f"{D2}T10:00:00", "CNTZZA"), None),
    ("tz_day2", event(s10(10000008), "EDC", f"{D2}T13:00:00+08:00", "CNTZZA"), None),
    # 01:00+08:00 on day 2 is still day 1 in Urumqi: the instant between the two periods'
    # midnights belongs to the earlier period, not to neither
    ("tz_change", event(s10(10000009), "EMD", f"{D2}T01:00:00+08:00", "CNTZZA"), None),
]


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    landing = root / "landing"
    generate(landing, start=START, days=3, seed=11, scale=0.02)
    ref = landing / "reference" / "offices.csv"
    ref.write_text(ref.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(EXTRA_OFFICES) + "\n",
                   encoding="utf-8")
    (landing / REVIEW_FILE).write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for _, e, _ in EVENTS), encoding="utf-8")
    return landing, paths_for(landing, root / "w.duckdb")


@pytest.fixture(scope="module")
def night2(landing):
    landing, paths = landing
    pipeline.run_night(paths, day(2))
    return paths


def test_each_bad_event_is_quarantined_with_file_line_and_rule(night2):
    got = {line: set(rules.split()) for line, rules in q(
        night2, "SELECT line, string_agg(rule, ' ') FROM mart.quarantine WHERE path = ? GROUP BY line",
        REVIEW_FILE)}
    expected = {i + 1: set(rule.split()) for i, (_, _, rule) in enumerate(EVENTS) if rule}
    assert got == expected
    [(read, loaded, quarantined)] = q(
        night2, "SELECT rows_read, rows_loaded, rows_quarantined FROM mart.load_ledger WHERE path = ?",
        REVIEW_FILE)
    assert (read, quarantined) == (len(EVENTS), len(expected)) and loaded == read - quarantined


def test_window_details_say_which_side(night2):
    details = dict(q(night2, "SELECT line, detail FROM mart.quarantine WHERE path = ? "
                             "AND rule = 'timestamp_out_of_window'", REVIEW_FILE))
    assert f"more than {EVENT_LOOKBACK_DAYS} days before its folder date {day(2)}" in details[1]
    assert f"after the night being run ({day(2)})" in details[3]


def test_no_published_day_after_the_night_and_no_dwell_from_a_clock_reset(night2):
    [(last_office_day, last_release)] = q(
        night2, "SELECT (SELECT max(report_date) FROM mart.office_daily), "
                "(SELECT max(release_date) FROM mart.customs_dwell_daily)")
    assert last_office_day <= day(2) and last_release <= day(2)
    # the reset item's EDB is rejected, so it has no presented time: no release at all
    assert q(night2, "SELECT max(dwell_max_h) FROM mart.customs_dwell_daily")[0][0] < 24 * EVENT_LOOKBACK_DAYS


def test_no_customs_time_at_a_centre_or_a_closed_office(night2):
    assert q(night2, "SELECT office_code FROM mart.customs_dwell_daily "
                     "WHERE office_code IN ('SZXKJ01', 'CNTSTA')") == []
    details = {d for (d,) in q(night2, "SELECT detail FROM mart.quarantine WHERE path = ? "
                                       "AND rule = 'unknown_office'", REVIEW_FILE)}
    assert any("not_an_office_of_exchange" in d for d in details)
    assert any("outside_validity" in d for d in details)


def test_naive_times_use_the_time_zone_of_their_period(night2):
    rows = dict(q(night2, "SELECT release_date, dwell_max_h FROM mart.customs_dwell_daily "
                          "WHERE office_code = 'CNTZZA' AND direction = 'inbound' AND n_released > 0"))
    assert rows == {day(1): pytest.approx(2.0), day(2): pytest.approx(1.0)}


def test_reference_with_an_unreadable_cell_is_rejected_whole(landing, night2):
    landing, paths = landing
    before = snapshot(paths.warehouse, ["offices"])["offices"]
    assert any(r[0] == "CNXMNA" for r in before)
    ref = landing / "reference" / "offices.csv"
    lines = ref.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("CNXMNA,"))
    assert ",30000," in lines[at]
    lines[at] = lines[at].replace(",30000,", ",3O000,")  # letter O
    ref.write_text("\n".join(lines) + "\n", encoding="utf-8")

    pipeline.run_night(paths, day(3))

    [(status, message)] = q(paths, "SELECT status, message FROM mart.load_ledger "
                                   "WHERE path = 'reference/offices.csv' AND run_date = ?", day(3))
    assert status == "quarantined"
    assert message.startswith("invalid_number: ") and f"line {at + 1}: capacity_in_per_day" in message
    assert message.count("invalid_number: ") == 1  # the row's own rule prefix is not repeated
    assert q(paths, "SELECT count(*) FROM mart.quarantine WHERE path = 'reference/offices.csv' "
                    "AND rule = 'invalid_number' AND run_date = ?", day(3))[0][0] == 1
    assert snapshot(paths.warehouse, ["offices"])["offices"] == before  # the reference in force stays
    assert q(paths, "SELECT bool_and(reported) FROM mart.office_daily "
                    "WHERE office_code = 'CNXMNA' AND report_date = ?", day(3))[0][0] is True
    assert q(paths, "SELECT count(*) FROM mart.quarantine WHERE rule = 'unknown_office' "
                    "AND feed = 'exchange_office' AND raw LIKE '%CNXMNA%'")[0][0] == 0
    alerts = q(paths, "SELECT severity, message FROM mart.alerts WHERE as_of_date = ? "
                      "AND kind = 'reference_rejected'", day(3))
    assert len(alerts) == 1 and alerts[0][0] == "critical"
    assert "reference/offices.csv" in alerts[0][1] and f"line {at + 1}" in alerts[0][1]


@pytest.mark.parametrize("row,rule", [
    # an unquoted thousands separator shifts the row: capacity 30 and 0, valid_from '50000'
    ('"",30,000,50000,2020-01-01,""', "invalid_date"),
    # a value beyond the last column, every named cell readable
    ('"",30000,50000,2020-01-01,"",x', "extra_cells"),
])
def test_reader_rejects_shifted_reference_rows(tmp_path, row, rule):
    header = ("office_code,office_type,name_zh,name_en,province,city,tz,capacity_in_per_day,"
              "capacity_out_per_day,valid_from,valid_to")
    good = 'CNBJSA,exchange_office,北京,Beijing,北京,北京,"",120000,160000,2020-01-01,""'
    p = tmp_path / "offices.csv"
    p.write_text("\n".join([header, good, "CNXMNA,exchange_office,厦门,Xiamen,福建,厦门," + row]) + "\n",
                 encoding="utf-8")
    res = read_reference(p)
    assert res.rows["office_code"].to_list() == ["CNBJSA"]
    assert res.quarantine.select("_line", "rule").rows() == [(3, rule)]
    assert res.rows_read == 2
