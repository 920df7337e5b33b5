"""transforms/history.py on tiny data: the Iceberg history tables (docs/decisions/0001)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from transforms import history as H
from transforms.config import REPO_ROOT

D0 = date(2026, 3, 1)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


def night(con, first_item: int, items: int, day: date, spread_days: int = 1):
    """Events of `items` items (3 each, 5 h apart) within `spread_days` days from `day`, with a
    staging column the history does not keep."""
    return con.sql(f"""
        SELECT 'RR' || lpad(i::VARCHAR, 9, '0') || 'CN' AS item_id, code AS event_code,
               ?::TIMESTAMP + to_hours((i * 7) % (24 * {spread_days} - 11) + k * 5) AS event_utc,
               ['CNSZXA', 'CNBJSA'][1 + i % 2] AS office_code, NULL::VARCHAR AS next_office_code,
               'U' AS mail_class, 'US' AS origin_country, 'CN' AS destination_country,
               (i % 300)::DOUBLE AS weight_g, NULL::VARCHAR AS retention_code,
               NULL::VARCHAR AS reason_code, NULL::VARCHAR AS action_code,
               ({first_item} + i) % 5 AS file_id, i * 3 + k AS line,
               'ignored' AS event_time, 480 AS local_offset_min
        FROM range({first_item}, {first_item + items}) r(i),
             (VALUES (0, 'EMD'), (1, 'EDB'), (2, 'EDC')) c(k, code)""", params=[day])


def append(h: H.History, con, rel, batch: str) -> H.History:
    """The nightly writer's append (H.add_events) of `rel`'s rows, staged as temp.history_batch
    on `con` as the core build stages them."""
    rows = rel.to_arrow_table()  # noqa: F841 (read by name below)
    con.execute("CREATE OR REPLACE TEMP TABLE history_batch AS SELECT * FROM rows")
    return H.add_events(h, con, batch)


CHECK = ("SELECT count(*), sum(hash(item_id, event_code, event_utc, office_code, weight_g, file_id, line)) "
         "FROM read_parquet(?)")


def counts(con, files):
    return con.execute(CHECK, [files]).fetchall()[0]


def test_append_is_idempotent_per_batch_and_table(tmp_path, con):
    h = H.open_history(tmp_path)
    rel = night(con, 0, 200, D0, spread_days=2)
    h = append(h, con, rel, "night-1")
    h = append(h, con, rel, "night-1")  # rerun: nothing appended
    assert [s.summary[H.BATCH_PROPERTY] for s in h.events.snapshots()] == ["night-1"]
    days = [D0, D0 + timedelta(days=1), D0 + timedelta(days=2)]
    assert counts(con, H.event_files(h, days))[0] == 600
    # the columns derivable from event_utc are not in the history
    assert "event_time" not in h.events.schema().column_names
    # a crash after the events' commit and before item_days': the rerun completes item_days only
    rel2 = night(con, 200, 50, D0 + timedelta(days=3))
    h.events.append(rel2.project(", ".join(H.EVENT_COLUMNS)).to_arrow_table()
                    .cast(h.events.schema().as_arrow()), snapshot_properties={H.BATCH_PROPERTY: "night-2"})
    h = append(H.open_history(tmp_path), con, rel2, "night-2")
    assert len(h.events.snapshots()) == 2 and len(h.item_days.snapshots()) == 2
    assert counts(con, H.event_files(h, days + [D0 + timedelta(days=3)]))[0] == 750
    idx = con.execute("SELECT count(DISTINCT item_id), count(*), min(first_day), max(last_day) "
                      "FROM read_parquet(?)", [H.item_day_files(h)]).fetchall()[0]
    assert idx == (250, 250, D0, D0 + timedelta(days=3))


def test_day_planning_returns_only_that_days_files(tmp_path, con, monkeypatch):
    h = H.open_history(tmp_path)
    for n in range(6):  # six nights, each on its own day
        h = append(h, con, night(con, n * 100, 100, D0 + timedelta(days=n)), f"n{n}")
    day = D0 + timedelta(days=3)
    files = H.event_files(h, [day])
    assert files and all(f"event_day={day.isoformat()}" in f for f in files)
    assert con.execute("SELECT min(event_utc)::DATE, max(event_utc)::DATE, count(*) FROM read_parquet(?)",
                       [files]).fetchall()[0] == (day, day, 300)
    on_disk = sorted(str(p) for p in (tmp_path / "warehouse").rglob(f"event_day={day.isoformat()}/*.parquet"))
    assert files == on_disk
    # consecutive and separate days in one plan
    two = H.event_files(h, [D0, D0 + timedelta(days=1), D0 + timedelta(days=4)])
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [two]).fetchall()[0][0] == 900
    # the plan opens only the manifest of that night, not every night's
    from pyiceberg.manifest import ManifestFile

    opened = []
    real = ManifestFile.fetch_manifest_entry
    monkeypatch.setattr(ManifestFile, "fetch_manifest_entry",
                        lambda self, *a, **k: opened.append(self.manifest_path) or real(self, *a, **k))
    assert H.event_files(h.refresh(), [day]) == files
    assert len(set(opened)) == 1


KILL_BEFORE_COMMIT = """
import os, signal, sys
import duckdb
from pyiceberg.catalog.sql import SqlCatalog
from transforms import history as H
SqlCatalog.commit_table = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
h = H.open_history(sys.argv[1])
con = duckdb.connect()
con.execute("CREATE TEMP TABLE history_batch AS SELECT * FROM read_parquet(?)", [H.event_files(h, [H.date(2026, 3, 1)])])
H.add_events(h, con, "killed")
"""


def test_orphan_cleanup_removes_an_uncommitted_write_and_keeps_committed_files(tmp_path, con):
    h = H.open_history(tmp_path)
    h = append(h, con, night(con, 0, 100, D0), "n0")
    before = {p for p in (tmp_path / "warehouse").rglob("*") if p.is_file()}
    committed_files = H.event_files(h, [D0])
    # a writer SIGKILLed after writing its data files and manifests, before the catalog commit
    r = subprocess.run([sys.executable, "-c", KILL_BEFORE_COMMIT, str(tmp_path)], cwd=REPO_ROOT)
    assert r.returncode == -9
    left = {p for p in (tmp_path / "warehouse").rglob("*") if p.is_file()} - before
    assert any(p.suffix == ".parquet" for p in left), left
    h = H.open_history(tmp_path)
    assert len(h.events.snapshots()) == 1 and not H.committed(h.events, "killed")
    # files newer than the cutoff are left alone (a writer might still be about to commit them)
    assert H.remove_orphans(h, datetime.now(timezone.utc) - timedelta(hours=1)) == []
    removed = H.remove_orphans(h, datetime.now(timezone.utc) + timedelta(seconds=1))
    assert sorted(removed) == sorted(str(p) for p in left)
    assert H.event_files(h, [D0]) == committed_files and all(os.path.exists(f) for f in committed_files)
    assert counts(con, committed_files)[0] == 300
    # the table still works: the metadata it needs survived
    h = append(H.open_history(tmp_path), con, night(con, 100, 10, D0), "n1")
    assert counts(con, H.event_files(h, [D0]))[0] == 330


def test_retention_drops_old_days_whole_and_expiry_keeps_the_last_publications(tmp_path, con):
    assert H.retention_cutoff(date(2028, 2, 29), 5) == date(2023, 2, 28)
    assert H.retention_cutoff(date(2026, 12, 1), 5) == date(2021, 12, 1)
    h = H.open_history(tmp_path)
    old, kept_day = date(2021, 1, 1), date(2021, 1, 2)
    h = append(h, con, night(con, 0, 50, old), "old")
    h = append(h, con, night(con, 50, 50, kept_day), "kept")
    H.tag_publication(h, date(2021, 1, 3))
    old_files, kept_files = H.event_files(h, [old]), H.event_files(h, [kept_day])
    held = h.events.current_snapshot().snapshot_id  # what the first publication's readers hold

    H.drop_before(h, kept_day)
    h = h.refresh()
    assert H.event_files(h, [old]) == []
    assert H.event_files(h, [kept_day]) == kept_files  # later days untouched: no rewrite
    assert H.event_files(h, [old], snapshot_id=held) == old_files
    H.tag_publication(h, date(2021, 1, 4))
    for n, run_date in enumerate([date(2021, 1, 5), date(2021, 1, 6)]):
        h = append(h, con, night(con, 100 + n * 10, 10, kept_day + timedelta(days=n + 1)), f"n{n}")
        H.tag_publication(h, run_date)
    h = h.refresh()
    # four publications: keeping four deletes no data file (only the manifest list of the one
    # snapshot older than the first publication), the held snapshot still reads
    assert [f for f in H.expire(h, keep_publications=4) if not f.endswith(".avro")] == []
    assert counts(con, H.event_files(h.refresh(), [old], snapshot_id=held))[0] == 150
    # keeping three: the first publication's tag and the snapshots before the second go, and
    # the old day's files with them (no kept snapshot lists them)
    removed = H.expire(h.refresh(), keep_publications=3)
    h = h.refresh()
    assert set(old_files) <= set(removed) and not any(os.path.exists(f) for f in old_files)
    assert all(os.path.exists(f) for f in kept_files)
    assert sorted(n for n in h.events.metadata.refs if n.startswith(H.PUBLICATION_TAG)) == [
        "publication-2021-01-04", "publication-2021-01-05", "publication-2021-01-06"]
    assert h.events.metadata.snapshot_by_id(held) is None
    for tag in h.events.metadata.refs.values():  # every kept publication still reads whole
        files = H.event_files(h, [kept_day + timedelta(days=i) for i in range(3)], snapshot_id=tag.snapshot_id)
        assert all(os.path.exists(f) for f in files)
    assert counts(con, H.event_files(h, [kept_day + timedelta(days=i) for i in range(3)]))[0] == 210
    with pytest.raises(ValueError, match="CLEARCAP_KEEP_PUBLICATIONS"):
        H.expire(h, keep_publications=0)


def test_compaction_keeps_the_rows_and_a_reader_of_the_old_files_keeps_reading(tmp_path, con):
    h = H.open_history(tmp_path)
    for n in range(4):  # late deliveries: four small files for the same day
        h = append(h, con, night(con, n * 100, 100, D0), f"late{n}")
    held = H.event_files(h, [D0])
    assert len(held) == 4
    expected = counts(con, held)
    # the index: four nights of 100 items each, and the first night's items seen again later in
    # the month (another row each until compaction merges them)
    h = append(h, con, night(con, 0, 100, D0 + timedelta(days=5)), "later")
    idx = "SELECT item_id, min(first_day), max(last_day) FROM read_parquet(?) GROUP BY ALL"
    idx_check = f"SELECT count(*), sum(hash(item_id, first_day, last_day)) FROM ({idx}) t(item_id, first_day, last_day)"
    idx_before = con.execute(idx_check, [H.item_day_files(h)]).fetchall()[0]
    assert idx_before[0] == 400
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [H.item_day_files(h)]).fetchall()[0][0] == 500

    seen, errors, stop = [], [], threading.Event()

    def reader():
        rc = duckdb.connect()
        while not stop.is_set():
            try:
                seen.append(rc.execute(CHECK, [held]).fetchall()[0])
            except Exception as e:  # a held file vanished: isolation broken
                errors.append(repr(e))
            time.sleep(0.01)

    th = threading.Thread(target=reader)
    th.start()
    try:
        assert H.compact_day(h, D0, con) == 4
        h = h.refresh()
        assert H.compact_item_month(h, D0, con) == 5
        h = h.refresh()
    finally:
        time.sleep(0.1)
        stop.set()
        th.join()
    assert not errors and seen and set(seen) == {expected}
    now = H.event_files(h, [D0])
    assert len(now) == 1 and counts(con, now) == expected
    assert con.execute(  # still sorted by item_id, event_utc
        "SELECT count(*) FROM (SELECT item_id, event_utc, lag(item_id) OVER w AS pi, lag(event_utc) OVER w AS pt "
        "FROM read_parquet(?, file_row_number = true) WINDOW w AS (ORDER BY file_row_number)) "
        "WHERE pi IS NOT NULL AND (item_id < pi OR (item_id = pi AND event_utc < pt))", [now]).fetchall()[0][0] == 0
    assert len(H.item_day_files(h)) == 1
    assert con.execute(idx_check, [H.item_day_files(h)]).fetchall()[0] == idx_before
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [H.item_day_files(h)]).fetchall()[0][0] == 400
    assert all(os.path.exists(f) for f in held)  # kept until their snapshots expire
    assert H.compact_day(h, D0, con) == 0  # one file already


OPEN_LAYOUT = """
import sys
import polars as pl
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
cat = SqlCatalog("clearcap", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
tbl = cat.load_table("history.events")
arrow = tbl.scan(row_filter="event_utc >= '2026-03-02T00:00:00'").to_arrow()
df = pl.scan_iceberg(tbl).filter(pl.col("item_id") == "RR000000007CN").collect()
print(arrow.num_rows, df.height, sorted(df["event_code"].to_list()), [f.name for f in tbl.spec().fields])
"""


def test_other_engines_read_the_tables_without_clearcap(tmp_path, con):
    h = H.open_history(tmp_path)
    append(h, con, night(con, 0, 100, D0, spread_days=2), "n0")
    n_day2 = con.execute("SELECT count(*) FROM read_parquet(?) WHERE event_utc >= '2026-03-02'",
                         [H.event_files(h.refresh(), [D0, D0 + timedelta(days=1), D0 + timedelta(days=2)])]).fetchall()[0][0]
    r = subprocess.run([sys.executable, "-c", OPEN_LAYOUT, str(tmp_path)], capture_output=True, text=True,
                       cwd=tmp_path)  # not the repository: clearcap is not importable from here
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(maxsplit=2)[:2] == [str(n_day2), "3"]
    assert "['EDB', 'EDC', 'EMD'] ['event_day']" in r.stdout


def test_catalog_url_setting(tmp_path, con, monkeypatch):
    monkeypatch.setenv("CLEARCAP_HISTORY_CATALOG", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    h = append(H.open_history(tmp_path / "h"), con, night(con, 0, 5, D0), "n0")
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "h" / "catalog.db").exists()
    assert counts(con, H.event_files(h, [D0]))[0] == 15


def test_catalog_on_postgresql(tmp_path, con):
    """The compose deployment's catalog: the same tables in a PostgreSQL database."""
    from transforms.orchestration.production import reachable, scratch_database

    if not reachable(5432):
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432 (scripts/ensure_services.sh starts it)")
    with scratch_database(prefix="clearcap_history") as url:
        h = append(H.open_history(tmp_path, catalog_url=url), con, night(con, 0, 20, D0), "n0")
        h = append(H.open_history(tmp_path, catalog_url=url), con, night(con, 0, 20, D0), "n0")
        assert len(h.events.snapshots()) == 1 and counts(con, H.event_files(h, [D0]))[0] == 60
        assert not (tmp_path / "catalog.db").exists()
        h.catalog.engine.dispose()  # the scratch database is dropped on exit


def test_the_item_index_lookup_reads_only_the_months_since_its_bound(tmp_path, con):
    """A late event looks up closed items in a bounded window of the item index (the core build
    passes `since` = the night's oldest event day - CLEARCAP_ITEM_REOPEN_DAYS): older months'
    files are not planned, however many years the history holds."""
    h = H.open_history(tmp_path)
    months = [D0 - timedelta(days=400), D0 - timedelta(days=40), D0]
    for n, d in enumerate(months):
        h = append(h, con, night(con, n * 100, 100, d), f"m{n}")
    every = H.item_day_files(h)
    assert len(every) == 3
    recent = H.item_day_files(h, since=D0 - timedelta(days=45))
    assert len(recent) == 2 and set(recent) < set(every)
    assert con.execute("SELECT min(first_day), count(*) FROM read_parquet(?)", [recent]).fetchall()[0] == (
        D0 - timedelta(days=40), 200)
    assert H.item_day_files(h, since=D0) == [f for f in every if "first_month=2026-03" in f]
