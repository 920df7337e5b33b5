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
