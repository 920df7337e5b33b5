"""SIGKILL at every step of a night (issue 11 acceptance): a night's run is killed at one point
after another — inside the load's transaction, between the models of each dbt layer, between
the quality gate and its bookkeeping, between the history's data files and their commit, and
between the history tables, between the closed items' appends and their deletion from the
state, around the publish's rename, between a publication and its
snapshot expiry, in the compaction — each time by a fresh `clearcap run` that resumes what the
previous one left. After each kill the published warehouse is the previous night's, unchanged,
or the new night's, complete. Then a clean run: marts, ledger, quarantine and the item-level
history equal a run that was never interrupted, and no history file is orphaned or missing."""
from __future__ import annotations

import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import DAILY_MARTS, clearcap, day, diff, make_landing, paths_for, snapshot
from transforms import core_build, history as H
from transforms.catalog import items_views
from transforms.pipeline import run_night

pytestmark = pytest.mark.slow
COMPARED = DAILY_MARTS + ["office_stay_daily", "load_ledger", "quarantine"]

# Run as `python -c KILLER <clearcap run args...>` from the checkout, one kill point a line on
# stdin: imports the pipeline once, then for each point forks a process (as an Airflow worker
# forks each task) that wraps one function so that it SIGKILLs itself there, and runs the
# command; prints the child's exit code (-9: killed at the point). No hook in the product's
# code: the points are the functions a night calls.
KILLER = r"""
import os, signal, sys, traceback
argv = sys.argv[1:]

import dbt.adapters.duckdb, dbt.cli.main, transforms.quality.engine  # imported once, before the forks
from transforms import dbt_runner, dbt_session, history as H, items, load, pipeline, publish, quality
from transforms.cli import main


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, name, nth, when):
    real, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if when == "before" and calls[0] == nth:
            die()
        out = real(*args, **kwargs)
        if when == "after" and calls[0] == nth:
            die()
        return out
    setattr(owner, name, wrapper)


def in_dbt(selected, cursor):
    # the `cursor`-th DuckDB cursor of the dbt invocation that selects `selected`: dbt-duckdb
    # opens one per model, so the models before it have committed and it has not started
    real_invoke, real_configure, n = dbt_runner.invoke, dbt_session.Plugin.configure_cursor, {"on": False, "cur": 0}

    def invoke(database, work_dir, run_date, args, *rest, **kwargs):
        n["on"], n["cur"] = selected in args, 0
        return real_invoke(database, work_dir, run_date, args, *rest, **kwargs)

    def configure(self, cur):
        n["cur"] += 1
        if n["on"] and n["cur"] == cursor:
            die()
        return real_configure(self, cur)
    dbt_runner.invoke = invoke
    dbt_session.Plugin.configure_cursor = configure


def kill_at(point):
    kind, *where = point.split(":")
    if kind == "dbt":
        in_dbt(where[0], int(where[1]))
        return
    owners = {"pipeline": pipeline, "load": load, "quality": quality, "H": H, "Table": H.Table,
              "publish": publish, "items": items}
    owner, name = where[0].split(".")
    wrap(owners[owner], name, int(where[1]), kind)


while line := sys.stdin.readline():
    pid = os.fork()
    if pid == 0:
        os.dup2(2, 1)  # the command's output away from the exit codes
        try:
            kill_at(line.strip())
            code = main(argv)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""

# In the order a night reaches them, each reached by the run after the previous kill (once the
# batch is applied, a run has no new file: its gate is skipped, its core runs on an empty batch).
POINTS = [
    "after:pipeline.ingest_file:1",        # one file of the night read, its Parquet written
    "after:load._insert_parquet:1",        # inside the load's transaction
    "dbt:staging:4",                       # between staging models
    "after:quality.validate_many:1",       # the gate ran: nothing routed or recorded
    "dbt:ev_new:8",                        # between the core models of the first invocation
    "dbt:file_outcomes:5",                 # timelines committed, the ledger not
    "before:Table.add_files:1",            # the ledger committed; history files written, not committed
    "after:Table.add_files:1",             # the next run's flush: history.events committed, item_days not
    "after:Table.add_files:2",             # the next: closed items' clearance committed, not the others
    "after:Table.add_files:2",             # the next: all three committed, the state's rows not deleted
    "dbt:mart:6",                          # between mart models
    "after:quality.validate_many:1",       # the mart suites ran: validation status not written
    "before:publish._move_foreign_wal:1",  # the new file written, not renamed into place
    "after:publish.fsync:2",               # renamed into place; the state not told yet
    "after:H.tag_publication:1",           # published and tagged; snapshots not expired
    "before:H.compact_day:1",              # the night's compaction under way
]


# Window 0: every item not touched tonight closes, so night 2 moves night 1's per-item rows to
# the history's tables of closed items (core_build.flush_pending; reopening: test_history_wiring).
WINDOW = "0"


@pytest.fixture(scope="module", autouse=True)
def window():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(core_build, "ITEM_WINDOW_DAYS", int(WINDOW))
        mp.setenv("CLEARCAP_ITEM_WINDOW_DAYS", WINDOW)
        yield


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("kills"), days=2, scale=0.01, seed=23)


@pytest.fixture(scope="module")
def clean(landing, tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("clean") / "w.duckdb"
    for n in (1, 2):
        run_night(paths_for(landing, wh), day(n))
    return wh


def history_rows(landing: Path, wh: Path) -> tuple:
    """Count and hash of every history event, its file named by the ledger's path (a killed
    load's file ids are used up: the file ids differ, the files must not), and of the item_days
    index."""
    paths = paths_for(landing, wh)
    h = H.open_history(paths)
    cols = ", ".join(f"e.{c}" for c in H.EVENT_COLUMNS if c != "file_id")
    files = H.event_files(h, [day(1) + timedelta(days=n) for n in range(-40, 3)])
    with duckdb.connect() as con:
        con.execute("ATTACH ? AS state (READ_ONLY)", [str(paths.state_db)])
        events = con.execute(f"""SELECT count(*), count(l.path), sum(hash({cols}, l.path))
                                 FROM read_parquet(?) e LEFT JOIN state.core.ledger l USING (file_id)""",
                             [files]).fetchone()
        index = con.execute("SELECT count(*), sum(hash(item_id, first_day, last_day)) FROM read_parquet(?)",
                            [H.item_day_files(h)]).fetchone()
    return events, index


def items_rows(wh: Path, view: str) -> tuple:
    cols = ", ".join(items_views()[view]["columns"])
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(f"SELECT count(*), sum(hash({cols})) FROM items.{view}").fetchone()


def test_a_night_killed_at_every_step_then_run_clean_equals_an_uninterrupted_run(landing, clean, tmp_path):
    wh = tmp_path / "w.duckdb"
    paths = paths_for(landing, wh)
    run_night(paths, day(1))
    published = snapshot(wh)
    args = ["run", "--landing", str(landing), "--warehouse", str(wh), "--date", day(2).isoformat()]
    cmd = clearcap(*args)
    with open(tmp_path / "killed.log", "w") as log:
        driver = subprocess.Popen([cmd["args"][0], "-c", KILLER, *args], cwd=cmd["cwd"], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        try:
            for point in POINTS:
                driver.stdin.write(point + "\n")
                driver.stdin.flush()
                code = driver.stdout.readline().strip()
                assert code == str(-signal.SIGKILL), \
                    f"{point}: not reached (exit {code!r}); see {tmp_path / 'killed.log'}"
                # the published warehouse opens: the previous night's as it was, or a complete new one
                with duckdb.connect(str(wh), read_only=True) as con:
                    run_date = con.execute("SELECT run_date FROM mart.publication").fetchone()[0]
                now = snapshot(wh)
                if run_date == day(1):
                    assert not diff(now, published), point
                else:
                    assert run_date == day(2), point
                    published = now
        finally:
            driver.stdin.close()
            driver.wait(timeout=60)
    run_night(paths, day(2))  # the clean run of the night
    assert not diff(snapshot(wh, COMPARED), snapshot(clean, COMPARED))
    assert history_rows(landing, wh) == history_rows(landing, clean)
    h = H.open_history(paths)
    listed = set().union(*(H._referenced(t) for t in h.tables()))
    on_disk = {str(p) for p in paths.history_dir.rglob("*.parquet")}
    assert on_disk - listed == set(), "orphaned history files"
    assert {p for p in listed if not Path(p).exists()} == set(), "history files listed but missing"
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.history_pending").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM core.closing").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM core.ledger WHERE status = 'staged'").fetchone()[0] == 0
    # the per-item rows, wherever they are (state or history), and the published items.* views
    for view in H.CLOSED_TABLES:
        assert items_rows(wh, view) == items_rows(clean, view), view
    assert H.table_files(h.closed["clearance"]), "no item closed: the moves were not exercised"
