"""Item events reader: JSON Lines and CSV, gzip, parse-level rules, line numbers, unreadable files."""
import gzip
import json
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from transforms.readers import read_events

DAY = None
ROW_COLUMNS = {"item_id": "VARCHAR", "event_code": "VARCHAR", "event_time": "VARCHAR", "event_local": "TIMESTAMP",
               "event_offset_min": "INTEGER", "office_code": "VARCHAR", "next_office_code": "VARCHAR",
               "mail_class": "VARCHAR", "origin_country": "VARCHAR", "destination_country": "VARCHAR",
               "weight_g": "DOUBLE", "retention_code": "VARCHAR", "reason_code": "VARCHAR",
               "action_code": "VARCHAR", "_line": "BIGINT", "_raw": "VARCHAR"}
QUARANTINE_COLUMNS = {"_line": "BIGINT", "_raw": "VARCHAR", "rule": "VARCHAR", "detail": "VARCHAR"}


def ev(**kw) -> str:
    base = {"item_id": "EE123456785CN", "event_code": "EMD", "event_time": "2026-11-25T10:00:00+08:00",
            "office_code": "CNBJSA"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def run(tmp_path: Path, name: str, data: bytes):
    src = tmp_path / name
    src.write_bytes(data)
    res = read_events(src, DAY, tmp_path / "out" / "rows.parquet", tmp_path / "out" / "q.parquet")
    return res, pl.read_parquet(tmp_path / "out" / "rows.parquet"), pl.read_parquet(tmp_path / "out" / "q.parquet")


def parquet_types(path: Path) -> dict:
    con = duckdb.connect()
    try:
        return {n: t for n, t, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}
    finally:
        con.close()


LINES = [
    ev(item_id=" ee123456785cn ", event_code="emc", weight_g=250, next_office_code="usjfka"),  # 1 ok
    "",                                                                                          # 2 blank
    ev(event_time="2026-11-25T02:00:00Z"),                                                      # 3 ok, Z
    "{not json",                                                                                 # 4 invalid_json
    ev(event_time="2026-02-30T10:00:00"),                                                       # 5 impossible
    ev(event_time="2026-13-01 10:00"),                                                          # 6 month 13
    ev(office_code=...),                                                                         # 7 missing
    ev(weight_g="heavy"),                                                                        # 8 invalid_number
    ev(event_time="2026-11-25 10:00"),                                                          # 9 ok, no offset
    "   ",                                                                                       # 10 blank
    ev(event_time="2026-11-25T10:00:00.250-0530"),                                             # 11 ok, -0530
    "[1, 2]",                                                                                    # 12 not an object
    ev(event_time="1999-12-31T23:00:00"),                                                       # 13 year range
    ev(event_time="2026-11-25T24:00:00"),                                                       # 14 hour 24
    ev(item_id=""),                                                                              # 15 empty field
]


def check_lines_result(res, rows, q):
    assert res.file_error is None
    assert res.rows_read == 13 and res.rows_ok == 4 and res.rows_quarantined == 9
    assert rows["_line"].to_list() == [1, 3, 9, 11]
    assert q.sort("_line").select("_line", "rule").rows() == [
        (4, "invalid_json"), (5, "invalid_timestamp"), (6, "invalid_timestamp"), (7, "missing_field"),
        (8, "invalid_number"), (12, "invalid_json"), (13, "invalid_timestamp"), (14, "invalid_timestamp"),
        (15, "missing_field")]
    assert rows["event_offset_min"].to_list() == [480, 0, None, -330]
    assert rows["event_local"].to_list() == [datetime(2026, 11, 25, 10), datetime(2026, 11, 25, 2),
                                             datetime(2026, 11, 25, 10), datetime(2026, 11, 25, 10, 0, 0, 250000)]
    assert rows["item_id"][0] == "EE123456785CN" and rows["event_code"][0] == "EMC"
    assert rows["next_office_code"][0] == "USJFKA" and rows["weight_g"].to_list()[:2] == [250.0, None]
    details = dict(zip(q["_line"], q["detail"]))
    assert "office_code" in details[7] and "heavy" in details[8] and "2026-02-30" in details[5]
    assert q.filter(pl.col("_line") == 4)["_raw"][0] == "{not json"


def test_jsonl(tmp_path):
    res, rows, q = run(tmp_path, "e.jsonl", ("\n".join(LINES) + "\n").encode())
    check_lines_result(res, rows, q)
    assert parquet_types(tmp_path / "out" / "rows.parquet") == ROW_COLUMNS
    assert parquet_types(tmp_path / "out" / "q.parquet") == QUARANTINE_COLUMNS


def test_jsonl_gz_with_crlf(tmp_path):
    res, rows, q = run(tmp_path, "e.jsonl.gz", gzip.compress(("\r\n".join(LINES) + "\r\n").encode()))
    check_lines_result(res, rows, q)


def test_csv_events_gz_quoted_fields_and_header_order(tmp_path):
    text = ("office_code,event_time,item_id,event_code,weight_g,mail_class\n"
            "CNBJSA,2026-11-25T10:00:00+08:00,EE123456785CN,EMC,12.5,e\n"
            "\n"
            "\"CNBJSA\",\"2026-11-25 10:00\",\"EE123456785CN\",EDB,,C\n"
            "CNBJSA,2026-11-31T10:00:00,EE123456785CN,EDB,,C\n"
            ",2026-11-25T10:00:00,EE123456785CN,EDB,,C\n"
            "CNBJSA,2026-11-25T10:00:00,EE123456785CN\n")
    res, rows, q = run(tmp_path, "e.csv.gz", gzip.compress(text.encode()))
    assert res.file_error is None and res.format == "csv"
    assert res.rows_read == 5 and res.rows_ok == 2
    assert rows["_line"].to_list() == [2, 4]
    assert rows["office_code"].to_list() == ["CNBJSA", "CNBJSA"] and rows["mail_class"].to_list() == ["E", "C"]
    assert rows["event_offset_min"].to_list() == [480, None] and rows["weight_g"].to_list() == [12.5, None]
    assert q.select("_line", "rule").rows() == [(5, "invalid_timestamp"), (6, "missing_field"), (7, "missing_field")]
    assert q["detail"][0].startswith("invalid_timestamp: event_time=")
    assert q["detail"][1].startswith("missing_field: ") and q["detail"][1].endswith(" empty or missing")


def test_csv_events_without_required_header(tmp_path):
    res, rows, q = run(tmp_path, "e.csv", b"item_id,event_code,office_code\nEE123456785CN,EMC,CNBJSA\n")
    assert res.file_error[0] == "no_header" and "event_time" in res.file_error[1]
    assert res.file_error[1].startswith("no_header: CSV header lacks ")
    assert rows.height == 0 and q.height == 0


def test_truncated_gzip_is_not_readable(tmp_path):
    data = gzip.compress(("\n".join(ev(item_id=f"EE{i:08d}5CN") for i in range(50000)) + "\n").encode())
    res, rows, q = run(tmp_path, "e.jsonl.gz", data[: len(data) // 2])
    assert res.file_error[0] == "not_readable" and res.file_error[1].startswith("not_readable: damaged gzip stream (")
    assert rows.height == 0 and q.height == 0
    assert parquet_types(tmp_path / "out" / "rows.parquet") == ROW_COLUMNS


def test_binary_garbage_is_not_readable(tmp_path):
    import random
    rnd = random.Random(7)
    res, rows, q = run(tmp_path, "e.jsonl", bytes(rnd.randrange(256) for _ in range(20000)))
    assert res.file_error is not None and res.file_error[0] == "not_readable"


def test_invalid_utf8_line_is_quarantined_and_numbers_stay_physical(tmp_path):
    data = (ev() + "\n").encode() + b"\xff\xfe garbage\n\n" + (ev(event_code="EMF") + "\n").encode()
    res, rows, q = run(tmp_path, "e.jsonl", data)
    assert res.file_error is None and res.rows_read == 3
    assert rows["_line"].to_list() == [1, 4]
    assert q.select("_line", "rule").rows() == [(2, "encoding")]


def test_empty_file(tmp_path):
    res, rows, q = run(tmp_path, "e.jsonl", b"")
    assert res.file_error is None and res.rows_read == 0 and rows.height == 0


@pytest.mark.slow
def test_large_file_keeps_line_order(tmp_path):
    n = 300_000
    body = "\n".join(ev(item_id=f"EE{i:08d}5CN", weight_g=i) if i % 1000 else "oops" for i in range(1, n + 1))
    res, rows, q = run(tmp_path, "big.jsonl.gz", gzip.compress(body.encode(), compresslevel=1))
    assert res.rows_read == n and res.rows_quarantined == n // 1000
    # weight_g holds the line number each line was written on
    assert rows.filter(pl.col("weight_g") != pl.col("_line").cast(pl.Float64)).height == 0
    assert rows["_line"].is_sorted()  # file order kept
    assert q["_line"].to_list() == list(range(1000, n + 1, 1000))
