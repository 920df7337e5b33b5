"""Compaction and retention of the history as commands (issue 11 step 6): `clearcap history
compact` rewrites the recently appended partitions, `clearcap history expire` drops old days."""
from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta, timezone

import duckdb

from pipeline_helpers import clearcap
from test_history_store import D0, append, counts, night
from transforms import history as H


def test_compact_recent_rewrites_only_partitions_appended_since(tmp_path):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    h = H.open_history(tmp_path)
    h = append(h, con, night(con, 0, 50, D0), "old")
    h = append(h, con, night(con, 50, 50, D0), "old2")
    since = datetime.now(timezone.utc)
    later = D0 + timedelta(days=40)
    for n in range(3):  # three nights with events on a later day: three files
        h = append(h, con, night(con, 100 + n * 10, 10, later), f"late{n}")
    before = (counts(con, H.event_files(h, [D0])), counts(con, H.event_files(h, [later])))
    out = H.compact_recent(h, con, since)
    h = h.refresh()
    assert out["days"] == [later.isoformat()] and out["months"] == [later.isoformat()[:7]]
    assert out["files_replaced"] == 3 + 3
    assert len(H.event_files(h, [later])) == 1 and len(H.event_files(h, [D0])) == 2  # D0 not appended since
    assert (counts(con, H.event_files(h, [D0])), counts(con, H.event_files(h, [later]))) == before
    assert H.compact_recent(h, con, datetime.now(timezone.utc) + timedelta(hours=1))["days"] == []
    con.close()


def test_history_commands(tmp_path):
    con = duckdb.connect()
    wh = tmp_path / "w.duckdb"
    root = tmp_path / "w.state" / "history"
    h = H.open_history(root)
    old = date(2019, 5, 1)
    for n, d in enumerate([old, old, D0, D0]):
        h = append(h, con, night(con, n * 10, 10, d), f"n{n}")
    H.tag_publication(h, D0)
    run = lambda *a: json.loads(subprocess.run(**clearcap("history", *a, "--warehouse", str(wh)),
                                               capture_output=True, text=True, check=True).stdout)
    compacted = run("compact", "--since-hours", "1")
    assert compacted["days"] == [old.isoformat(), D0.isoformat()] and compacted["files_replaced"] >= 4
    expired = run("expire", "--keep-years", "5", "--date", D0.isoformat())
    assert expired["cutoff"] == date(2021, 3, 1).isoformat() and expired["files_deleted"] > 0
    h = H.open_history(root)
    assert H.event_files(h, [old]) == [] and counts(con, H.event_files(h, [D0]))[0] == 60
    con.close()


def _closed(first: int, n: int, presented: date, released: date, batch: int) -> tuple[str, list]:
    """`n` closed clearances (items first..first+n), as add_closed's select and parameters."""
    return ("SELECT 'RR' || lpad((range + ?)::VARCHAR, 9, '0') || 'CN' AS item_id, 'CNBJSA' AS office_code, "
            "'inbound' AS direction, ?::TIMESTAMP AS presented_utc, ?::TIMESTAMP AS released_utc, "
            "?::DATE AS presented_date, ?::DATE AS release_date, 24.0::DOUBLE AS dwell_h, false AS retained, "
            "?::BIGINT AS closed_batch FROM range(?)",
            [first, presented, released, presented, released, batch, n])


def test_closed_items_tables_append_once_plan_by_dates_compact_and_drop(tmp_path):
    """history.clearance (docs/decisions/0007): a batch appends once; the files planned for a
    range of dates are those whose presented or release dates can fall in it (a January file
    released in March is read for March, not for February); a month is compacted only once it
    has enough files; retention drops whole months."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    h = H.open_history(tmp_path)
    jan, feb, mar = date(2026, 1, 20), date(2026, 2, 10), date(2026, 3, 5)
    sql, params = _closed(0, 40, jan, mar, 1)
    h = H.add_closed(h, con, "clearance", sql, "1", params)
    again = H.add_closed(h, con, "clearance", sql, "1", params)
    assert len(again.closed["clearance"].snapshots()) == 1  # the batch is there: not appended twice
    for b in (2, 3, 4):
        sql, params = _closed(100 * b, 10, feb, feb, b)
        h = H.add_closed(h, con, "clearance", sql, str(b), params)
    assert H.closed_schema("clearance").column_names[-1] == H.CLOSED_BATCH
    march = H.closed_files(h, "clearance", date(2026, 3, 1), date(2026, 3, 31))
    february = H.closed_files(h, "clearance", date(2026, 2, 1), date(2026, 2, 28))
    assert [p.split("/")[-2] for p in march] == ["presented_month=2026-01"]
    assert len(february) == 3 and all("presented_month=2026-02" in p for p in february)

    def total(files):
        return con.execute("SELECT count(*), sum(hash(item_id)) FROM read_parquet(?, hive_partitioning = false)",
                           [files]).fetchall()[0]

    before = total(H.table_files(h.closed["clearance"]))
    assert H.compact_closed_month(h, "clearance", feb, con) == 0  # 3 files < CLOSED_COMPACT_FILES
    assert H.compact_closed_month(h, "clearance", feb, con, min_files=3) == 3
    h = h.refresh()
    assert len(H.closed_files(h, "clearance", date(2026, 2, 1), date(2026, 2, 28))) == 1
    assert total(H.table_files(h.closed["clearance"])) == before == (70, before[1])
    H.drop_before(h, date(2026, 2, 15))  # keeps February (the cutoff's month) whole
    h = h.refresh()
    assert total(H.table_files(h.closed["clearance"]))[0] == 30
    con.close()


def test_a_column_added_to_a_core_models_contract_evolves_the_closed_table(tmp_path, monkeypatch):
    """A core model gains a column (its contract, models/core/_core.yml): the next open of the
    history adds it to history.<table> (a schema change, no file rewritten); files written before
    and after read together, the older rows' value NULL, compaction included. A changed type is
    refused with a message naming the column."""
    import pytest
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField, StringType

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    feb = date(2026, 2, 10)
    h = H.open_history(tmp_path)
    sql, params = _closed(0, 10, feb, feb, 1)
    h = H.add_closed(h, con, "clearance", sql, "1", params)
    files = H.table_files(h.closed["clearance"])
    real = H.closed_schema

    def grown(table):
        s = real(table)
        return Schema(*s.fields, NestedField(len(s.fields) + 1, "broker_code", StringType(), required=False))

    monkeypatch.setattr(H, "closed_schema", grown)
    h = H.open_history(tmp_path)
    assert h.closed["clearance"].schema().column_names[-1] == "broker_code"
    assert H.table_files(h.closed["clearance"]) == files  # nothing rewritten
    assert H.open_history(tmp_path).closed["clearance"].metadata == h.closed["clearance"].metadata  # once
    sql, params = _closed(100, 10, feb, feb, 2)
    h = H.add_closed(h, con, "clearance", sql.replace(" FROM range", ", 'BRK' || range AS broker_code FROM range"),
                     "2", params)

    def rows():
        return con.execute("SELECT count(*), count(broker_code), count(DISTINCT closed_batch) FROM read_parquet(?, "
                           "hive_partitioning = false, union_by_name = true)",
                           [H.table_files(h.closed["clearance"])]).fetchall()[0]

    assert rows() == (20, 10, 2)
    assert H.compact_closed_month(h, "clearance", feb, con, min_files=2) == 2
    h = h.refresh()
    assert len(H.table_files(h.closed["clearance"])) == 1 and rows() == (20, 10, 2)

    def retyped(table):
        s = grown(table)
        return Schema(*(NestedField(f.field_id, f.name, StringType(), required=False) if f.name == "dwell_h" else f
                        for f in s.fields))

    monkeypatch.setattr(H, "closed_schema", retyped)
    with pytest.raises(RuntimeError, match="dwell_h double -> string"):
        H.open_history(tmp_path)
    con.close()
