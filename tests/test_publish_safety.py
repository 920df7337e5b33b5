"""Issue 13, finding 13: an analyst's read-write session on the published file breaks no reader."""
from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from pipeline_helpers import day, make_landing, paths_for
from transforms import pipeline
from transforms.dashboard import build_dashboard

# The analyst: `duckdb.connect(FILE)` (read-write, the default), a scratch table, held open.
ANALYST = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE main.scratch AS SELECT 42 AS x")
print("ready", flush=True)
sys.stdin.readline()
print(con.execute("SELECT x FROM main.scratch").fetchone()[0], flush=True)
con.close()
"""
# Any other process opening the stable name afterwards (a new analyst, the DAG's dashboard task).
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT run_date FROM mart.publication").fetchone()[0])
"""


def _read_in_new_process(warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", READER, str(warehouse)], capture_output=True, text=True,
                          timeout=120)


def test_a_read_write_analyst_held_through_a_publish_breaks_no_reader(tmp_path):
    landing = make_landing(tmp_path, days=2, scale=0.01, seed=6)
    paths = paths_for(landing, tmp_path / "warehouse.duckdb")
    pipeline.run_night(paths, day(1))
    wal = paths.warehouse.with_name(paths.warehouse.name + ".wal")
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(paths.warehouse)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "ready", analyst.stderr.read()
        assert wal.exists()  # the analyst's uncommitted-to-file scratch work
        result = pipeline.run_night(paths, day(2))

        after = _read_in_new_process(paths.warehouse)
        assert after.returncode == 0, after.stderr
        assert after.stdout.strip() == day(2).isoformat()
        assert build_dashboard(paths.warehouse, tmp_path / "d.html").stat().st_size > 0
        assert not wal.exists()
        assert list(tmp_path.glob("warehouse.duckdb.wal.foreign-*"))  # kept aside, not deleted
        assert result["publish"]["foreign_wal"]
        assert paths.warehouse.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0

        analyst.stdin.write("\n")
        analyst.stdin.flush()
        out, err = analyst.communicate(timeout=60)
        assert analyst.returncode == 0 and out.strip() == "42", err  # their session kept working
    finally:
        if analyst.poll() is None:
            analyst.kill()
    again = _read_in_new_process(paths.warehouse)
    assert again.returncode == 0 and again.stdout.strip() == day(2).isoformat(), again.stderr
