"""Report shapes real offices send that the demo does not: merged spreadsheet cells, official
regime names, spreadsheet-exported dates with a time, a file holding only a total row."""
from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from transforms.readers import read_report
from transforms.readers.values import parse_date, parse_regime

DAY = date(2026, 3, 5)


def test_merged_cells_fill_every_row_they_span(tmp_path):
    path = tmp_path / "merged.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["北京国际邮件互换局业务日报"])
    ws.append(["日期", "互换局代码", "进出口", "邮件种类", "接收件数", "发运件数"])
    ws.append([DAY, "CNBJSA", "进口", "函件", 100, 90])
    ws.append([None, None, None, "包裹", 200, 190])
    ws.append([None, None, "出口", "函件", 300, 290])
    ws.append([None, None, None, "包裹", 400, 390])
    ws.append(["合计", None, None, None, 1000, 960])
    for rng in ("A3:A6", "B3:B6", "C3:C4", "C5:C6"):
        ws.merge_cells(rng)
    wb.save(path)
    res = read_report(path, "exchange_office", DAY)
    assert res.file_error is None and res.quarantine.height == 0
    rows = res.rows.sort("_line")
    assert rows["office_code"].to_list() == ["CNBJSA"] * 4
    assert rows["direction"].to_list() == ["inbound", "inbound", "outbound", "outbound"]
    assert rows["report_date"].to_list() == [DAY] * 4
    assert res.totals.filter(res.totals["column"] == "items_received")["rows_sum"].to_list() == [1000.0]


@pytest.mark.parametrize("label,code", [
    ("电子商务", "9610"), ("9610（电子商务）", "9610"), ("跨境电子商务企业对企业直接出口", "9710"),
    ("保税跨境贸易电子商务", "1210"), ("KJ-A类", "KJ-A"), ("快件C类", "KJ-C"), (110, "0110"),
    ("一般贸易", "0110"), ("96101", "96101"), ("不明", "不明")])
def test_regime_labels(label, code):
    assert parse_regime(label) == code


@pytest.mark.parametrize("text", ["2026/3/5 00:00", "2026-03-05 00:00:00", "2026年 3月 5日",
                                  " 2026.03.05 ", "20260305"])
def test_dates_as_spreadsheets_export_them(text):
    assert parse_date(text) == DAY


def test_a_total_row_over_no_data_is_compared_with_zero(tmp_path):
    path = tmp_path / "only_total.csv"
    path.write_text("report_date,office_code,direction,mail_class,items_received,items_dispatched\n"
                    "  Total ,,,,500,400\n", encoding="utf-8")
    res = read_report(path, "exchange_office", DAY)
    assert res.rows.height == 0
    totals = dict(zip(res.totals["column"], res.totals["reported_total"]))
    assert totals["items_received"] == 500


def test_event_times_in_every_iso_form_and_weights_with_separators(tmp_path):
    import duckdb

    from transforms.readers import read_events

    src = tmp_path / "e.jsonl"
    src.write_text("\n".join([
        '{"item_id":"EE123456785CN","event_code":"EDB","event_time":"2026-03-05T08:00:00+08","office_code":"CNBJSA"}',
        '{"item_id":"EE123456785CN","event_code":"EDC","event_time":"20260305T100000+0800","office_code":"CNBJSA",'
        '"weight_g":"1,234"}',
        '{"item_id":"EE123456785CN","event_code":"EMF","event_time":"2026-03-05 11:00Z","office_code":"CNBJSA"}',
        '{"item_id":"EE123456785CN","event_code":"EMF","event_time":"2026-03-05T11:00:00+15:00","office_code":"CNBJSA"}',
    ]) + "\n", encoding="utf-8")
    res = read_events(src, DAY, tmp_path / "r.parquet", tmp_path / "q.parquet")
    assert (res.rows_ok, res.rows_quarantined) == (3, 1)
    rows = duckdb.sql(f"SELECT event_offset_min, weight_g FROM '{tmp_path / 'r.parquet'}' ORDER BY _line").fetchall()
    assert rows == [(480, None), (480, 1234.0), (0, None)]
    assert duckdb.sql(f"SELECT _line, rule FROM '{tmp_path / 'q.parquet'}'").fetchall() == [(4, "invalid_timestamp")]
