"""Issue 11 item 2: the item-level schema `items` of the published warehouse (transforms/items.py).

A declaration that matches its sources, typed views even over an empty history, and readers
that hold published files open through five nights (late events for old days, a redelivery, a
rerun of an older night) and keep seeing one complete night each, without error."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml
import pytest

from pipeline_helpers import copy_tree, day, make_landing, paths_for
from transforms import history as H
from transforms.catalog import items_views
from transforms.config import KEEP_PUBLICATIONS
from transforms.dbt_runner import PROJECT_DIR
from transforms.items import MARKER, view_statements
from transforms.pipeline import run_night

pytestmark = pytest.mark.slow
CORE_YML = PROJECT_DIR / "models" / "core" / "_core.yml"


def _types(con, schema: str, view: str) -> dict:
    return dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
                            "AND table_name = ? ORDER BY column_index", [schema, view]).fetchall())


def test_the_declaration_is_exactly_its_sources_columns():
    views = items_views()
    arrow = {f.name: f.type for f in H.EVENTS_SCHEMA.as_arrow()}
    ev = views["events"]
    stored = [c for c in ev["columns"] if c not in ev["expressions"] and c != "event_day"]
    assert stored == H.EVENT_COLUMNS
    scratch = duckdb.connect()
    try:
        # the history's types as DuckDB reads them, against the declared ones
        tbl = scratch.from_arrow(H.EVENTS_SCHEMA.as_arrow().empty_table())
        assert dict(zip(tbl.columns, map(str, tbl.types))) == {c: ev["columns"][c][0] for c in stored}, arrow
        assert list(views["item_days"]["columns"]) == H.ITEM_DAYS_SCHEMA.column_names
        # the core models' declarations (contracts dbt enforces on their tables)
        core = {m["name"]: {c["name"]: c["data_type"] for c in m.get("columns", [])}
                for m in yaml.safe_load(CORE_YML.read_text(encoding="utf-8"))["models"]}
        per_item = [v for v, spec in views.items() if spec["source"] in {f"history.{t}" for t in H.CLOSED_TABLES}]
        assert per_item == list(H.CLOSED_TABLES)
        for view in per_item:
            assert core[view] == {c: t for c, (t, _) in views[view]["columns"].items()}, view
            # the history's table of closed items: the same columns and closed_batch
            assert H.closed_schema(view).column_names == [*views[view]["columns"], H.CLOSED_BATCH]
        # a view of no file is typed as declared
        scratch.execute("CREATE SCHEMA items")
        for view, spec in views.items():
            for stmt in view_statements(view, []):
                scratch.execute(stmt)
            assert _types(scratch, "items", view) == {c: t for c, (t, _) in spec["columns"].items()}
            assert scratch.execute(f"SELECT count(*) FROM items.{view}").fetchone()[0] == 0
    finally:
        scratch.close()


def test_a_first_night_without_events_publishes_typed_empty_item_views(tmp_path):
    landing = make_landing(tmp_path, days=1, scale=0.01, seed=3)
    shutil.rmtree(landing / "item_events")
    paths = paths_for(landing, tmp_path / "w.duckdb")
    run_night(paths, day(1))
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for view, spec in items_views().items():
            assert _types(con, "items", view) == {c: t for c, (t, _) in spec["columns"].items()}
            assert con.execute(f"SELECT count(*) FROM items.{view}").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM mart.office_daily").fetchone()[0] > 0


# A reader holding one published file: checks that the night it sees is complete (marts and
# items agree with each other), once at start and again at each line on stdin.
READER = r"""
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
Q = {
 "run_date": "SELECT run_date::VARCHAR FROM mart.publication",
 "events": "SELECT count(*), sum(hash(item_id, event_code, event_utc, office_code)) FROM items.events",
 "event_items": "SELECT count(DISTINCT item_id) FROM items.events",
 "indexed_items": "SELECT count(DISTINCT item_id) FROM items.item_days",
 "released_items": "SELECT count(*) FROM items.clearance WHERE release_date IS NOT NULL",
 "released_mart": "SELECT sum(n_released) FROM mart.customs_dwell_daily",
 "dispatched_items": "SELECT count(*) FROM items.dispatch WHERE destination_country IS NOT NULL",
 "dispatched_mart": "SELECT sum(items_dispatched) FROM mart.lane_weekly",
 "departed_items": "SELECT count(*) FROM items.office_stay",
 "cleared_without_events": "SELECT count(*) FROM (SELECT DISTINCT item_id FROM items.clearance) c "
                           "ANTI JOIN items.events e USING (item_id)",
 "timeline": "SELECT count(*) FROM items.events WHERE item_id = (SELECT min(item_id) FROM items.clearance) "
             "AND event_day BETWEEN (SELECT min(first_day) FROM items.item_days WHERE item_id = "
             "(SELECT min(item_id) FROM items.clearance)) AND (SELECT max(last_day) FROM items.item_days "
             "WHERE item_id = (SELECT min(item_id) FROM items.clearance))",
}
def check():
    try:
        return {k: [str(v) for v in con.execute(q).fetchone()] for k, q in Q.items()}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(check()), flush=True)
for _ in sys.stdin:
    print(json.dumps(check()), flush=True)
"""


class Reader:
    def __init__(self, warehouse: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", READER, str(warehouse)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.first = self._read()

    def _read(self) -> dict:
        return json.loads(self.proc.stdout.readline())

    def check(self) -> dict:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _complete(seen: dict) -> None:
    """One night whole: the marts and the items views of the same file agree."""
    assert "error" not in seen, seen
    assert seen["released_items"] == seen["released_mart"]
    assert seen["dispatched_items"] == seen["dispatched_mart"]
    assert seen["event_items"] == seen["indexed_items"]
    assert seen["cleared_without_events"] == ["0"]
    assert int(seen["events"][0]) > 0 and int(seen["timeline"][0]) > 0


def _deliver(full: Path, target: Path, n: int, skip: tuple[Path, ...] = ()) -> None:
    for feed in ("exchange_office", "customs_centre", "item_events"):
        src = full / feed / day(n).isoformat()
        if src.is_dir():
            copy_tree(src, target / feed / day(n).isoformat())
    for f in skip:
        (target / f.relative_to(full)).unlink()


def test_readers_hold_published_files_through_five_nights(tmp_path):
    full = make_landing(tmp_path / "full", days=4, scale=0.01, seed=8)
    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True)
    shutil.copy2(full / "reference" / "offices.csv", landing / "reference" / "offices.csv")
    late = sorted((full / "item_events" / day(1).isoformat()).iterdir())[0]
    paths = paths_for(landing, tmp_path / "wh" / "w.duckdb")

    def night_1():
        _deliver(full, landing, 1, skip=(late,))

    def night_2():  # late events for an old day: day 1's held-back file
        _deliver(full, landing, 2)
        shutil.copy2(late, landing / late.relative_to(full))

    def night_3():  # a redelivery: a day-2 events file re-sent under a new name, a corrected report
        _deliver(full, landing, 3)
        events = sorted((landing / "item_events" / day(2).isoformat()).iterdir())[-1]
        shutil.copy2(events, events.with_name("resent_" + events.name))
        report = sorted((landing / "exchange_office" / day(1).isoformat()).glob("*.csv"))[0]
        shutil.copy2(report, report.with_name(report.stem + "_redelivered.csv"))

    def night_4():
        _deliver(full, landing, 4)

    nights = [(night_1, 1), (night_2, 2), (night_3, 3), (night_4, 4), (lambda: None, 2)]  # last: rerun of night 2
    held: list[tuple[Reader, dict]] = []
    seen_nights = []
    try:
        for deliver, n in nights:
            deliver()
            run_night(paths, day(n))
            for reader, first in held:  # every file still held saw its own night, whole, again
                assert reader.check() == first
            reader = Reader(paths.warehouse)
            _complete(reader.first)
            assert reader.first["run_date"] == [day(n).isoformat()]
            seen_nights.append(reader.first)
            held.append((reader, reader.first))
            # the next publication is one of the last KEEP_PUBLICATIONS too: a file older than
            # the others it keeps may lose its items' files then, so its reader lets go now
            while len(held) >= KEEP_PUBLICATIONS:
                held.pop(0)[0].close()
    finally:
        for reader, _ in held:
            reader.close()
    # the nights moved on: late events and the rerun added no event twice
    counts = [int(s["events"][0]) for s in seen_nights]
    assert counts[1] > counts[0] and counts[3] > counts[2] and counts[4] == counts[3]
    # what is kept on disk: the last KEEP_PUBLICATIONS publications' folders, every file they list
    folders = sorted(p for p in paths.items_dir.iterdir())
    assert len(folders) == KEEP_PUBLICATIONS and all((f / MARKER).exists() for f in folders)
    h = H.open_history(paths)
    tags = [n for n in h.events.metadata.refs if n.startswith(H.PUBLICATION_TAG)]
    assert len(tags) <= KEEP_PUBLICATIONS
    for name in tags:
        files = H.table_files(h.events, h.events.metadata.refs[name].snapshot_id)
        assert files and all(Path(f).exists() for f in files)
