"""Feeds A and B readers: encodings, header layouts, totals, numbers, dates, labels, xlsx."""
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from transforms.readers import read_report, totals_mismatch
from transforms.readers.columns import CUSTOMS_CENTRE, EXCHANGE_OFFICE, row_schema

DAY = date(2026, 11, 25)
ZH_A = "日期,互换局代码,进出口,邮件种类,接收件数,发运件数,总包数,重量(千克),交验件数,放行件数,查验件数,扣留件数,退运件数,日终积压件数"


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "r.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def a_file(rows: list[str], header: str = ZH_A, title: str | None = "北京国际邮件互换局业务日报") -> str:
    lines = ([title] if title else []) + [header] + rows
    return "\n".join(lines) + "\n"


ROW1 = "2026-11-25,CNBJSA,进口,包裹,\"12,345\",100,10,55.5,90,80,5,2,1,300"
ROW2 = "2026-11-25,CNBJSA,出口,函件,200,-,,1.5,20,20,0,0,0,0"


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                               ("gb18030", "gb18030")])
def test_encodings_decode_chinese_exactly(tmp_path, encoding, expected):
    res = read_report(write(tmp_path, a_file([ROW1, ROW2]), encoding), "exchange_office", DAY)
    assert res.file_error is None
    assert res.encoding == expected
    assert res.rows["direction"].to_list() == ["inbound", "outbound"]
    assert res.rows["mail_class"].to_list() == ["C", "U"]
    assert "进口" in res.rows["_raw"][0]  # raw text is the real Chinese, not mojibake


def test_schema_matches_contract_even_when_empty(tmp_path):
    res = read_report(write(tmp_path, a_file([])), "exchange_office", DAY)
    assert res.file_error is None and res.rows.height == 0 and res.rows_read == 0
    assert dict(res.rows.schema) == row_schema(EXCHANGE_OFFICE)
    assert res.rows.schema["report_date"] == pl.Date and res.rows.schema["weight_kg"] == pl.Float64


def test_title_blank_lines_and_line_numbers(tmp_path):
    text = "北京国际邮件互换局业务日报\n\n" + ZH_A + "\n\n" + ROW1 + "\n,,,\n" + ROW2 + "\n"
    res = read_report(write(tmp_path, text), "exchange_office", DAY)
    assert res.rows_read == 2
    assert res.rows["_line"].to_list() == [5, 7]


def test_numbers_thousands_and_null_markers(tmp_path):
    rows = [ROW1, "2026-11-25,CNBJSA,转运,EMS, 1 234 ,－,—,,0,0,0,0,0,0"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    r = res.rows
    assert r["items_received"].to_list() == [12345, 1234]
    assert r["items_dispatched"].to_list() == [100, None]   # full-width dash is NULL
    assert r["receptacles"].to_list() == [10, None]          # em dash is NULL
    assert r["weight_kg"].to_list() == [55.5, None]          # empty is NULL
    assert r["items_presented"].to_list() == [90, 0]         # 0 stays 0
    assert r["mail_class"].to_list() == ["C", "E"] and r["direction"][1] == "transit"


def test_invalid_number_quarantines_row_with_line(tmp_path):
    rows = [ROW1, "2026-11-25,CNBJSA,出口,函件,12.5,1,1,1,1,1,1,1,1,1", "2026-11-25,CNBJSA,出口,包裹,abc,1,1,1,1,1,1,1,1,1",
            "2026-11-25,CNBJSA,转运,EMS,-7,1,1,1,1,1,1,1,1,1"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    q = res.quarantine
    assert q["rule"].to_list() == ["invalid_number", "invalid_number"]
    assert q["_line"].to_list() == [4, 5]
    assert "items_received" in q["detail"][0] and "12.5" in q["detail"][0]
    assert q["_raw"][1].startswith("2026-11-25,CNBJSA,出口,包裹,abc")
    assert res.rows["items_received"].to_list() == [12345, -7]  # negatives parse; GX rejects them
    assert res.rows_read == 4


@pytest.mark.parametrize("text", ["2026-11-25", "2026/11/25", "20261125", "2026年11月25日", " 2026-11-25 "])
def test_date_formats(tmp_path, text):
    res = read_report(write(tmp_path, a_file([f"{text},CNBJSA,进口,包裹,1,1,1,1,1,1,1,1,1,1"])), "exchange_office", DAY)
    assert res.rows["report_date"].to_list() == [DAY]


def test_short_date_and_bad_dates(tmp_path):
    rows = ["2026-1-5,CNBJSA,进口,包裹,1,1,1,1,1,1,1,1,1,1", "2026-02-30,CNBJSA,进口,包裹,1,1,1,1,1,1,1,1,1,1",
            "25.11.2026,CNBJSA,进口,包裹,1,1,1,1,1,1,1,1,1,1"]
    res = read_report(write(tmp_path, a_file(rows, title=None)), "exchange_office", DAY)
    assert res.rows["report_date"].to_list() == [date(2026, 1, 5)]  # kept; folder check is GX's job
    assert res.quarantine["rule"].to_list() == ["invalid_date", "invalid_date"]
    assert res.quarantine["_line"].to_list() == [3, 4]
    assert "report_date" in res.quarantine["detail"][0] and "2026-02-30" in res.quarantine["detail"][0]


def test_mixed_shuffled_headers_extra_column_and_missing_optional(tmp_path):
    header = "备注, Mail_Class ,日期,office_code,进出口,items_received,发运件数,交验件数"
    rows = ["夜班,U,2026-11-25,cnbjsa,inbound,5,6,7", ",E,2026-11-25,CNBJSA,出境,1,1,1"]
    res = read_report(write(tmp_path, a_file(rows, header=header)), "exchange_office", DAY)
    assert res.file_error is None
    r = res.rows
    assert r["office_code"].to_list() == ["CNBJSA", "CNBJSA"]
    assert r["items_received"].to_list() == [5, 1] and r["items_presented"].to_list() == [7, 1]
    assert r["receptacles"].null_count() == 2 and r["weight_kg"].null_count() == 2
    assert r["_extra"].to_list() == ['{"备注": "夜班"}', None]
    assert r["direction"].to_list() == ["inbound", "outbound"]


def test_missing_required_column_is_no_header(tmp_path):
    header = "日期,互换局代码,邮件种类,接收件数,发运件数"
    res = read_report(write(tmp_path, a_file(["2026-11-25,CNBJSA,U,1,1"], header=header)), "exchange_office", DAY)
    assert res.file_error[0] == "no_header" and "direction" in res.file_error[1]
    assert res.file_error[1].startswith("no_header: header on line ")  # its rule once, then the reason
    assert res.rows.height == 0 and dict(res.rows.schema) == row_schema(EXCHANGE_OFFICE)


def test_no_recognisable_header(tmp_path):
    res = read_report(write(tmp_path, "a,b,c\n1,2,3\n"), "exchange_office", DAY)
    assert res.file_error == ("no_header", "no_header: no row has 3 or more known column names (decoded as utf-8)")


def test_undecodable_file_is_encoding_error(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes(b"\x81\xff\x00\x01binary\xfe\xfe" * 20)
    res = read_report(p, "exchange_office", DAY)
    assert res.file_error == ("encoding", "encoding: not valid UTF-8 (with or without BOM) nor GB18030 text")


def test_gbk_text_is_never_read_as_latin1_or_utf8(tmp_path):
    res = read_report(write(tmp_path, a_file([ROW1]), "gbk"), "exchange_office", DAY)
    assert res.encoding == "gb18030"
    assert res.rows["direction"].to_list() == ["inbound"]


def test_total_row_matching(tmp_path):
    rows = [ROW1, ROW2, "合计,,,,\"12,545\",100,10,57,110,100,5,2,1,300"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    assert res.rows_read == 2 and res.rows.height == 2
    t = res.totals
    assert set(t["column"]) == {c.name for c in EXCHANGE_OFFICE if c.numeric}
    assert t["_line"].unique().to_list() == [5]
    assert totals_mismatch(t) == []
    dispatched = t.filter(pl.col("column") == "items_dispatched")
    assert dispatched["rows_sum"][0] == 100.0  # the '-' row is ignored, not counted as 0


def test_total_row_mismatch_and_english_label(tmp_path):
    rows = [ROW1, ROW2, " Total ,,,,12545,999,10,57,110,100,5,2,1,300"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    assert totals_mismatch(res.totals) == ["items_dispatched"]
    assert res.rows_read == 2


def test_all_null_column_sum_is_null(tmp_path):
    rows = ["2026-11-25,CNBJSA,进口,包裹,1,1,-,1,1,1,1,1,1,1", "总计,,,,1,1,-,1,1,1,1,1,1,1"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    rec = res.totals.filter(pl.col("column") == "receptacles")
    assert rec["rows_sum"][0] is None and rec["reported_total"][0] is None
    assert totals_mismatch(res.totals) == []


def test_ragged_rows(tmp_path):
    rows = ["2026-11-25,CNBJSA,进口,包裹,1,2,3,4,5,6,7,8,9,10,surplus", "2026-11-25,CNBJSA,出口,包裹,1,2"]
    res = read_report(write(tmp_path, a_file(rows)), "exchange_office", DAY)
    r = res.rows
    assert r["backlog_close"].to_list() == [10, None]
    assert r["items_dispatched"].to_list() == [2, 2]
    assert "surplus" in r["_extra"][0] and r["_extra"][1] is None


def test_customs_centre_labels_and_codes(tmp_path):
    header = "日期,监管中心代码,进出境,监管方式,申报单数,放行单数,查验单数,扣留单数,退单数,涉及件数,申报货值(元),放行时长合计(小时),日终待放行单数"
    labels = ["快件A类", "kj-b", "跨境电商零售", "跨境电子商务零售", "跨境电商B2B直接出口", "跨境电商出口海外仓",
              "保税电商", "一般贸易", "110", "9999"]
    rows = [f"2026-11-25,SZXKJ01,进境,{lab},10,9,1,0,0,20,\"1,234.50\",18.5,1" for lab in labels]
    res = read_report(write(tmp_path, a_file(rows, header=header, title="监管中心日报")), "customs_centre", DAY)
    assert res.file_error is None
    assert res.rows["regime"].to_list() == ["KJ-A", "KJ-B", "9610", "9610", "9710", "9810", "1210", "0110", "0110",
                                            "9999"]
    assert res.rows["declared_value_cny"][0] == pytest.approx(1234.5)
    assert res.rows.schema["release_hours_total"] == pl.Float64
    assert dict(res.rows.schema) == row_schema(CUSTOMS_CENTRE)
    assert res.rows["direction"].unique().to_list() == ["inbound"]


def test_unknown_direction_kept_as_given(tmp_path):
    res = read_report(write(tmp_path, a_file(["2026-11-25,CNBJSA, 入境 ,平信,1,1,1,1,1,1,1,1,1,1"])),
                      "exchange_office", DAY)
    assert res.rows["direction"].to_list() == ["入境"] and res.rows["mail_class"].to_list() == ["平信"]


def _xlsx(tmp_path: Path, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    p = tmp_path / "r.xlsx"
    wb.save(p)
    return p


def test_xlsx_date_cells_numeric_regime_and_sheet_rows(tmp_path):
    header = ["report_date", "centre_code", "direction", "regime", "declarations_lodged", "declarations_released",
              "declared_value_cny"]
    p = _xlsx(tmp_path, [["监管中心日报"], [], header,
                         [datetime(2026, 11, 25), "SZXKJ01", "outbound", 110, 5, 4, 100.5],
                         [date(2026, 11, 25), "SZXKJ01", "inbound", 9610, 3, 3, None],
                         [46351, "SZXKJ01", "inbound", "快件C类", 1.0, 1, 2],
                         [20261125, "SZXKJ01", "inbound", "KJ-A", 2.5, 1, 2],
                         ["合计", None, None, None, 11.5, 9, 104.5]])
    res = read_report(p, "customs_centre", DAY)
    assert res.file_error is None and res.encoding is None
    r = res.rows
    assert r["report_date"].to_list() == [DAY, DAY, DAY]  # datetime, date and Excel serial 46351
    assert r["regime"].to_list() == ["0110", "9610", "KJ-C"]
    assert r["declarations_lodged"].to_list() == [5, 3, 1]
    assert r["_line"].to_list() == [4, 5, 6]
    assert res.quarantine["_line"].to_list() == [7] and res.quarantine["rule"][0] == "invalid_number"
    assert res.quarantine["detail"][0].startswith("invalid_number: ")
    assert not res.quarantine["detail"][0].startswith("invalid_number: invalid_number")
    assert res.totals["_line"].unique().to_list() == [8]
    assert res.rows_read == 4


def test_not_a_spreadsheet(tmp_path):
    p = tmp_path / "r.xlsx"
    p.write_text(a_file([ROW1]), encoding="utf-8")
    res = read_report(p, "exchange_office", DAY)
    assert res.file_error[0] == "not_readable" and res.file_error[1].startswith("not_readable: not an xlsx workbook (")


def test_truncated_xlsx(tmp_path):
    good = _xlsx(tmp_path, [["日期", "互换局代码", "进出口", "邮件种类"], ["2026-11-25", "CNBJSA", "进口", "U"]])
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    assert read_report(good, "exchange_office", DAY).file_error[0] == "not_readable"


# Issue 13, finding 9: subtotal rows are neither data nor the grand total.
SUB_IN = "2026-11-25,CNBJSA,进口,小计,\"12,345\",100,10,55.5,90,80,5,2,1,300"
SUB_OUT = "Subtotal,,,,200,-,,1.5,20,20,0,0,0,0"
GRAND = "合计,,,,\"12,545\",100,10,57,110,100,5,2,1,300"


def test_subtotal_rows_are_skipped_and_the_total_checks_data_rows_only(tmp_path):
    res = read_report(write(tmp_path, a_file([ROW1, SUB_IN, ROW2, SUB_OUT, GRAND])), "exchange_office", DAY)
    assert res.file_error is None
    assert totals_mismatch(res.totals) == []
    assert res.rows["_line"].to_list() == [3, 5] and res.quarantine.height == 0
    assert res.subtotal_lines == [4, 6]
    assert res.rows_read == res.rows.height + res.quarantine.height  # subtotals are not rows read


def test_subtotal_rows_in_xlsx(tmp_path):
    header = ["report_date", "centre_code", "direction", "regime", "declarations_lodged", "declared_value_cny"]
    p = _xlsx(tmp_path, [header,
                         [datetime(2026, 11, 25), "SZXKJ01", "outbound", "9610", 5, 100.5],
                         [datetime(2026, 11, 25), "SZXKJ01", "outbound", "KJ-B", 3, 2],
                         [datetime(2026, 11, 25), "SZXKJ01", "outbound", " 小 计 ", 8, 102.5],
                         ["Sub-total:", None, None, None, 8, 102.5],
                         ["总计", None, None, None, 8, 102.5]])
    res = read_report(p, "customs_centre", DAY)
    assert res.file_error is None and totals_mismatch(res.totals) == []
    assert res.rows["declarations_lodged"].to_list() == [5, 3]
    assert res.subtotal_lines == [4, 5] and res.rows_read == 2


def test_a_remark_saying_subtotal_does_not_drop_a_data_row(tmp_path):
    res = read_report(write(tmp_path, a_file([ROW1 + ",小计"], header=ZH_A + ",备注")), "exchange_office", DAY)
    assert res.rows.height == 1 and res.subtotal_lines == []
