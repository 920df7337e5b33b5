"""Each suite in expectations/ finds exactly the injected bad rows (GX metrics run in DuckDB)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import duckdb
import pytest

from transforms.quality import load_suite_json, validate, validate_many

D = dt.date(2026, 11, 25)
D1 = dt.date(2026, 11, 26)

EO_COLS = ["_row_id", "_file_id", "folder_date", "_line", "report_date", "office_code", "direction",
           "mail_class", "items_received", "items_dispatched", "receptacles", "weight_kg",
           "items_presented", "items_released", "items_inspected", "items_held", "items_returned",
           "backlog_close", "office_known"]
CC_COLS = ["_row_id", "_file_id", "folder_date", "_line", "report_date", "centre_code", "direction",
           "regime", "declarations_lodged", "declarations_released", "declarations_inspected",
           "declarations_held", "declarations_rejected", "items_declared", "declared_value_cny",
           "release_hours_total", "pending_close", "centre_known"]
EV_COLS = ["_row_id", "_file_id", "folder_date", "_line", "item_id", "event_code", "event_time",
           "office_code", "mail_class", "origin_country", "destination_country", "weight_g",
           "event_utc", "office_tz", "office_status", "time_window"]


def _table(con, name, cols_sql, rows):
    con.execute(f"CREATE OR REPLACE TABLE {name} ({cols_sql})")
    n = cols_sql.count(",") + 1
    con.executemany(f"INSERT INTO {name} VALUES ({', '.join(['?'] * n)})", rows)


def _eo_row(rid, **kw):
    row = dict(_row_id=rid, _file_id=1, folder_date=D, _line=rid + 1, report_date=D,
               office_code=f"CNX{rid:02d}A", direction="inbound", mail_class="C",
               items_received=100, items_dispatched=90, receptacles=5, weight_kg=12.5,
               items_presented=80, items_released=70, items_inspected=10, items_held=2,
               items_returned=0, backlog_close=10, office_known=True)
    row.update(kw)
    return [row[c] for c in EO_COLS]


def _cc_row(rid, **kw):
    row = dict(_row_id=rid, _file_id=1, folder_date=D, _line=rid + 1, report_date=D,
               centre_code=f"SZC{rid:02d}", direction="outbound", regime="9610",
               declarations_lodged=100, declarations_released=90, declarations_inspected=5,
               declarations_held=1, declarations_rejected=0, items_declared=120,
               declared_value_cny=1000.5, release_hours_total=50.0, pending_close=10,
               centre_known=True)
    row.update(kw)
    return [row[c] for c in CC_COLS]


def _ev_row(rid, **kw):
    row = dict(_row_id=rid, _file_id=3, folder_date=D, _line=rid, item_id="RR000164273KH",
               event_code="EDB", event_time="2026-11-25T08:00:00+08:00", office_code="CNBJSA",
               mail_class="E", origin_country="US", destination_country="CN", weight_g=250.0,
               event_utc=dt.datetime(2026, 11, 25, 0, 0), office_tz="Asia/Shanghai",
               office_status="reference", time_window=None)
    row.update(kw)
    return [row[c] for c in EV_COLS]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "state.duckdb"
    c = duckdb.connect(str(path))
    c.execute("CREATE SCHEMA staging; CREATE SCHEMA mart; CREATE SCHEMA mart_checks")

    eo_sql = ("_row_id BIGINT, _file_id BIGINT, folder_date DATE, _line BIGINT, report_date DATE, "
              "office_code VARCHAR, direction VARCHAR, mail_class VARCHAR, items_received BIGINT, "
              "items_dispatched BIGINT, receptacles BIGINT, weight_kg DOUBLE, items_presented BIGINT, "
              "items_released BIGINT, items_inspected BIGINT, items_held BIGINT, items_returned BIGINT, "
              "backlog_close BIGINT, office_known BOOLEAN")
    eo = [_eo_row(i, direction=d, mail_class=m) for i, (d, m) in
          enumerate([("inbound", "U"), ("inbound", "C"), ("outbound", "E"), ("transit", "C")], start=1)]
    eo += [
        _eo_row(5, items_received=None, weight_kg=None, items_inspected=None),  # not reported != bad
        _eo_row(10, office_code=None, office_known=None),
        _eo_row(11, direction="sideways"),
        _eo_row(12, mail_class="X"),
        _eo_row(13, items_held=-1),
        _eo_row(14, weight_kg=-0.5),
        _eo_row(15, office_known=False),
        _eo_row(16, report_date=D1),
        _eo_row(17, office_code="CNDUPA"),
        _eo_row(18, office_code="CNDUPA"),
        _eo_row(19, items_inspected=81),
        _eo_row(20, office_code="CNDUPA", _file_id=2),  # same key, other file: not a duplicate
    ]
    _table(c, "staging.exchange_office", eo_sql, eo)

    cc_sql = ("_row_id BIGINT, _file_id BIGINT, folder_date DATE, _line BIGINT, report_date DATE, "
              "centre_code VARCHAR, direction VARCHAR, regime VARCHAR, declarations_lodged BIGINT, "
              "declarations_released BIGINT, declarations_inspected BIGINT, declarations_held BIGINT, "
              "declarations_rejected BIGINT, items_declared BIGINT, declared_value_cny DOUBLE, "
              "release_hours_total DOUBLE, pending_close BIGINT, centre_known BOOLEAN")
    cc = [_cc_row(i, regime=r) for i, r in enumerate(["9610", "9710", "KJ-A", "0110"], start=1)]
    cc += [
        _cc_row(10, regime=None),
        _cc_row(11, direction="transit"),
        _cc_row(12, regime="KJ-D"),
        _cc_row(13, declarations_rejected=-3),
        _cc_row(14, centre_known=False),
        _cc_row(15, report_date=D1),
        _cc_row(16, centre_code="SZDUP"),
        _cc_row(17, centre_code="SZDUP"),
        _cc_row(18, declarations_inspected=101),
    ]
    _table(c, "staging.customs_centre", cc_sql, cc)

    ev_sql = ("_row_id BIGINT, _file_id BIGINT, folder_date DATE, _line BIGINT, item_id VARCHAR, "
              "event_code VARCHAR, event_time VARCHAR, office_code VARCHAR, mail_class VARCHAR, "
              "origin_country VARCHAR, destination_country VARCHAR, weight_g DOUBLE, "
              "event_utc TIMESTAMP, office_tz VARCHAR, office_status VARCHAR, time_window VARCHAR")
    ev = [_ev_row(i, item_id=s) for i, s in enumerate(
        ["RR000164273KH", "EE123456785CN", "EA123456140CN", "LX123456025CN"], start=1)]
    ev += [
        _ev_row(5, mail_class=None, origin_country=None, destination_country=None, weight_g=None,
                office_status="foreign", office_code="USJFKA"),
        _ev_row(10, item_id="RR000164274KH"),
        _ev_row(11, item_id="RR00016427KH"),
        _ev_row(12, event_code="XYZ"),
        _ev_row(13, office_status="unknown"),
        _ev_row(14, mail_class="Z"),
        _ev_row(15, origin_country="CHN"),
        _ev_row(16, destination_country="c1"),
        _ev_row(17, weight_g=-1.0),
        _ev_row(18, event_utc=None),
        _ev_row(19, item_id=None),
        _ev_row(20, time_window="local date 2099-01-01 is after the night being run (2026-11-25)"),
        _ev_row(21, office_status="outside_validity"),
        _ev_row(22, office_status="not_an_office_of_exchange", office_code="SZQH01"),
    ]
    _table(c, "staging.item_events", ev_sql, ev)

    _table(c, "staging.report_totals",
           "_row_id BIGINT, _file_id BIGINT, feed VARCHAR, column_name VARCHAR, reported_total DOUBLE, rows_sum DOUBLE",
           [[1, 5, "exchange_office", "items_received", 300.0, 300.0],
            [2, 7, "exchange_office", "items_received", 310.0, 300.0],
            [3, 7, "exchange_office", "weight_kg", None, 12.5],
            [4, 8, "customs_centre", "declared_value_cny", 1000.5, 1000.5]])

    _table(c, "staging.reference",
           "_row_id BIGINT, office_code VARCHAR, office_type VARCHAR, name_en VARCHAR, tz VARCHAR, "
           "capacity_in_per_day BIGINT, capacity_out_per_day BIGINT, valid_from DATE, valid_to DATE, \"overlaps\" BOOLEAN, "
           "tz_known BOOLEAN",
           [[1, "CNBJSA", "exchange_office", "Beijing", "Asia/Shanghai", 100000, 90000, dt.date(2020, 1, 1), None, False, True],
            [2, "SZQH01", "express_supervision_centre", "Qianhai", "Asia/Shanghai", 5000, 6000, dt.date(2020, 1, 1), None, False, True],
            [10, "cn-bad", "exchange_office", "x", None, 1, 1, dt.date(2020, 1, 1), None, False, True],
            [11, "CNAAAA", "airport", "x", None, 1, 1, dt.date(2020, 1, 1), None, False, True],
            [12, "CNBBBB", "exchange_station", "x", None, -5, 1, dt.date(2020, 1, 1), None, False, True],
            [13, "CNCCCC", "exchange_station", "x", None, 1, 1, None, None, False, True],
            [14, "CNDDDD", "exchange_station", "x", None, 1, 1, dt.date(2020, 1, 1), None, True, True],
            [15, "CNEEEE", "exchange_station", "x", "Asia/Urumgi", 1, 1, dt.date(2020, 1, 1), None, False, False]])

    # marts (no _row_id): bad rows are identified by their values
    c.execute("""CREATE TABLE mart.office_daily AS SELECT * FROM (VALUES
        ('CNBJSA', DATE '2026-11-25', 'inbound', 100, 90, 80, 70, 10, 2, 0, 10, 1000, 0.1, 0.09, 0.875, 0.125, 0.025, 0.5, true),
        ('CNSHAA', DATE '2026-11-25', 'inbound', 100, 90, 80, 70, 10, 2, 0, 10, 50, 2.0, 1.8, 0.875, 0.125, 0.025, 0.5, true),
        ('CNCANA', DATE '2026-11-25', 'inbound', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 50, NULL, NULL, NULL, NULL, NULL, NULL, false),
        ('CNBAD1', DATE '2026-11-25', 'inbound', 100, 90, 80, 120, 10, 2, 0, 10, 1000, 0.1, 0.09, 1.5, 0.125, 0.025, 0.5, true),
        ('CNBAD2', DATE '2026-11-25', 'outbound', 100, -90, 80, 70, 10, 2, 0, 10, 1000, 0.1, -0.09, 0.875, 0.125, 0.025, 0.5, true),
        ('CNBAD2', DATE '2026-11-25', 'outbound', 100, 90, 80, 70, 10, 2, 0, 10, 1000, 0.1, 0.09, 0.875, 0.125, 0.025, 0.5, NULL)
        ) t(office_code, report_date, direction, items_received, items_dispatched, items_presented,
            items_released, items_inspected, items_held, items_returned, backlog_close, capacity_per_day,
            load_factor, utilization, release_rate, inspection_rate, hold_rate, backlog_days, reported)""")
    c.execute("""CREATE TABLE mart.customs_dwell_daily AS SELECT * FROM (VALUES
        ('CNBJSA', DATE '2026-11-25', 'inbound', 10, 5.0, 4.0, 9.0, 10.0, 12.0, 0.9, 1, 3),
        ('CNBAD1', DATE '2026-11-25', 'inbound', 10, 5.0, 11.0, 9.0, 10.0, 12.0, 0.9, 1, 3),
        ('CNBAD2', DATE '2026-11-25', 'inbound', 10, 5.0, 4.0, 9.0, 10.0, 12.0, 1.2, 11, 3),
        ('CNBAD3', DATE '2026-11-25', 'inbound', 10, -1.0, -2.0, 9.0, 10.0, 12.0, 0.9, 1, 3),
        ('CNNULL', DATE '2026-11-25', 'inbound', 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 3)
        ) t(office_code, release_date, direction, n_released, dwell_mean_h, dwell_p50_h, dwell_p90_h,
            dwell_p95_h, dwell_max_h, share_within_24h, n_retained, in_customs_close)""")
    c.execute("""CREATE TABLE mart.centre_daily AS SELECT * FROM (VALUES
        ('SZQH01', DATE '2026-11-25', 'outbound', '9610', 100, 90, 5, 1, 0, 120, 10, 0.9, 0.05),
        ('SZQH01', DATE '2026-11-25', 'outbound', '9710', 100, 110, 5, 1, 0, 120, 10, 1.1, 0.05)
        ) t(centre_code, report_date, direction, regime, declarations_lodged, declarations_released,
            declarations_inspected, declarations_held, declarations_rejected, items_declared,
            pending_close, release_rate, inspection_rate)""")
    c.execute("""CREATE VIEW mart_checks.national_vs_offices AS SELECT * FROM (VALUES
        (DATE '2026-11-25', 'inbound', 300, 300), (DATE '2026-11-25', 'outbound', 310, 300),
        (DATE '2026-11-26', 'inbound', NULL, NULL)
        ) t(report_date, direction, national_received, offices_received)""")
    yield c
    c.close()


def _ids_by_rule(con, outcomes):
    found = defaultdict(set)
    for o in outcomes:
        if not o.success:
            assert o.failing_ids_sql, o
            found[o.rule] |= {r[0] for r in con.execute(o.failing_ids_sql).fetchall()}
            assert o.observed["unexpected_count"] >= 1
    return dict(found)


def _check_suite_json(name):
    doc = load_suite_json(name)
    for exp in doc["expectations"]:
        assert exp["meta"]["rule"] and exp["meta"]["description"]
        assert exp["meta"]["severity"] in ("row", "file", "error", "warning")
    return doc


@pytest.mark.parametrize("table,suite,expected", [
    ("staging.exchange_office", "staging_exchange_office", {
        "missing_field": {10}, "invalid_direction": {11}, "invalid_mail_class": {12},
        "negative_count": {13, 14}, "unknown_office": {15}, "date_outside_folder": {16},
        "duplicate_key": {17, 18}, "inspected_exceeds_presented": {19}}),
    ("staging.customs_centre", "staging_customs_centre", {
        "missing_field": {10}, "invalid_direction": {11}, "invalid_regime": {12},
        "negative_count": {13}, "unknown_office": {14}, "date_outside_folder": {15},
        "duplicate_key": {16, 17}, "inspected_exceeds_lodged": {18}}),
    ("staging.item_events", "staging_item_events", {
        "s10_check_digit": {10, 11}, "unknown_event_code": {12}, "unknown_office": {13, 21, 22},
        "invalid_mail_class": {14}, "invalid_country": {15, 16}, "negative_count": {17},
        "invalid_timestamp": {18}, "missing_field": {19}, "timestamp_out_of_window": {20}}),
    ("staging.report_totals", "staging_report_totals", {"total_mismatch": {2}}),
    ("staging.reference", "staging_reference", {
        "invalid_office_code": {10}, "invalid_office_type": {11}, "negative_count": {12},
        "missing_field": {13}, "overlapping_validity": {14}, "unknown_time_zone": {15}}),
])
def test_staging_suite_finds_exactly_the_injected_rows(con, table, suite, expected):
    doc = _check_suite_json(suite)
    outcomes = validate(con, table, suite)
    assert len(outcomes) == len(doc["expectations"])
    assert _ids_by_rule(con, outcomes) == expected
    severities = {o.rule: o.severity for o in outcomes}
    assert set(severities.values()) <= {"row", "file", "warning"}
    for o in outcomes:
        assert o.observed["element_count"] == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_clean_rows_pass_and_where_restricts_the_batch(con):
    report = validate_many(con, [
        ("staging.exchange_office", "staging_exchange_office"),
        ("staging.customs_centre", "staging_customs_centre"),
        ("staging.item_events", "staging_item_events"),
        ("staging.reference", "staging_reference"),
    ], where="_row_id < 10")
    failed = [(o.rule, o.column) for o in report.outcomes if not o.success]
    assert failed == []
    assert report.success
    assert all(o.observed["element_count"] in (5, 4, 2) for o in report.outcomes)


def test_where_keeps_failing_ids_sql_runnable(con):
    outcomes = validate(con, "staging.exchange_office", "staging_exchange_office",
                        where="_row_id IN (1, 2, 13, 17, 18)")
    assert _ids_by_rule(con, outcomes) == {"negative_count": {13}, "duplicate_key": {17, 18}}


def _failed(outcomes):
    return sorted({(o.rule, o.severity, o.column, o.observed.get("unexpected_count")) for o in outcomes
                   if not o.success})


def test_mart_office_daily(con):
    outcomes = validate(con, "mart.office_daily", "mart_office_daily")
    assert _failed(outcomes) == [
        ("duplicate_key", "error", "office_code,report_date,direction", 2),
        ("missing_field", "error", "reported", 1),
        ("negative_count", "error", "items_dispatched", 1),
        ("negative_ratio", "error", "utilization", 1),
        ("rate_out_of_range", "warning", "release_rate", 1),  # lead: rates may exceed 1 (carry-over)
    ]
    assert all(o.failing_ids_sql is None for o in outcomes)  # no _row_id in marts
    bad = [o for o in outcomes if o.column == "release_rate"][0]
    assert con.execute(bad.observed["unexpected_rows_sql"]).fetchall() == [(1.5,)] or \
        len(con.execute(bad.observed["unexpected_rows_sql"]).fetchall()) == 1


def test_mart_customs_dwell_daily(con):
    outcomes = validate(con, "mart.customs_dwell_daily", "mart_customs_dwell_daily")
    assert _failed(outcomes) == [
        ("negative_dwell", "warning", "dwell_mean_h", 1),
        ("negative_dwell", "warning", "dwell_p50_h", 1),
        ("percentiles_unordered", "error", "dwell_p90_h,dwell_p50_h", 1),
        ("rate_out_of_range", "error", "share_within_24h", 1),
        ("retained_exceeds_released", "error", "n_released,n_retained", 1),
    ]


def test_mart_centre_daily_and_national(con):
    report = validate_many(con, [("mart.centre_daily", "mart_centre_daily"),
                                 ("mart_checks.national_vs_offices", "mart_national_daily")])
    assert _failed(report.runs[0].outcomes) == [("rate_out_of_range", "warning", "release_rate", 1)]
    assert _failed(report.runs[1].outcomes) == [
        ("national_mismatch", "error", "national_received,offices_received", 1)]


def test_mart_office_stay_daily(con):
    from transforms.catalog import mart_tables

    cols = list(mart_tables()["office_stay_daily"]["columns"])
    con.execute("CREATE OR REPLACE TABLE mart.office_stay_daily AS SELECT "
                + ", ".join(f"NULL::{t} AS \"{c}\"" for c, (t, _) in
                            mart_tables()["office_stay_daily"]["columns"].items()) + " LIMIT 0")
    good = {"scope": "office", "office_code": "CNBJSA", "departure_date": "2026-11-25", "direction": "inbound",
            "n_items": 10, "n_missing_arrival": 1, "n_missing_release": 2,
            **{f"{s}_{k}": v for s in ("to_customs", "customs", "after_release", "stay")
               for k, v in (("n", 8), ("mean_h", 5.0), ("p50_h", 4.0), ("p90_h", 9.0), ("p95_h", 10.0))},
            "stay_share_within_24h": 0.5, "stay_share_within_48h": 0.9}
    rows = [good,
            {**good, "scope": "national", "office_code": None},                # national row: fine
            {**good, "office_code": "CNBAD1", "stay_p90_h": 3.0},              # p90 below p50
            {**good, "office_code": "CNBAD2", "customs_n": 11,                 # more steps than items
             "stay_share_within_24h": 0.95},                                   # 24 h share above 48 h
            {**good, "office_code": "CNBAD3", "to_customs_mean_h": -1.0},      # clocks disagree
            {**good, "office_code": "CNBAD3", "scope": "region"}]              # unknown scope
    con.executemany(f"INSERT INTO mart.office_stay_daily ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' for _ in cols)})", [[r[c] for c in cols] for r in rows])
    outcomes = validate(con, "mart.office_stay_daily", "mart_office_stay_daily")
    assert _failed(outcomes) == [
        ("invalid_scope", "error", "scope", 1),
        ("negative_step", "warning", "to_customs_mean_h", 1),
        ("percentiles_unordered", "error", "stay_p90_h,stay_p50_h", 1),
        ("shares_unordered", "error", "stay_share_within_48h,stay_share_within_24h", 1),
        ("step_count_exceeds_items", "error", "n_items,customs_n", 1),
    ]
    con.execute("DROP TABLE mart.office_stay_daily")
