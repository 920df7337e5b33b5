"""The nightly steps as the DAG calls them: one writer, clear failures, an untouched warehouse
when a run cannot publish."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import day, make_landing, paths_for
from transforms import pipeline

CLI = str(Path(sys.executable).with_name("clearcap"))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("steps"), days=3, scale=0.01, seed=2)


def test_steps_refuse_a_batch_staged_by_another_night(landing, tmp_path):
    paths = paths_for(landing, tmp_path / "w.duckdb")
    manifests = [pipeline.ingest_file(paths, e) for e in pipeline.plan(paths, day(2))]
    pipeline.load(paths, day(2), manifests)
    with pytest.raises(RuntimeError, match="another run interleaved"):
        pipeline.validate_batch(paths, day(3))
    with pytest.raises(RuntimeError, match="another run interleaved"):
        pipeline.build_core(paths, day(3))


def test_plan_chunks_cover_every_planned_file_once(landing, tmp_path):
    paths = paths_for(landing, tmp_path / "w.duckdb")
    entries = pipeline.plan(paths, day(3))
    chunks = pipeline.plan_chunks(paths, day(3), chunks=3)
    assert len(chunks) == 3
    assert sorted(e["path"] for c in chunks for e in c) == sorted(e["path"] for e in entries)
    assert all(e["folder_date"] is None or e["folder_date"] <= day(3).isoformat() for e in entries)


def test_cli_names_a_missing_landing_zone(tmp_path):
    out = subprocess.run([CLI, "run", "--landing", str(tmp_path / "nope"), "--warehouse",
                          str(tmp_path / "w.duckdb"), "--date", "2026-03-02"], capture_output=True, text=True)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_failed_run_leaves_the_published_warehouse_untouched(landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    ok = subprocess.run([CLI, "run", "--landing", str(landing), "--warehouse", str(wh),
                         "--date", day(2).isoformat()], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    before = wh.read_bytes()
    # a state that cannot be opened (not a DuckDB file) makes the next night fail
    state = paths_for(landing, wh).state_db
    state.write_bytes(b"not a database")
    bad = subprocess.run([CLI, "run", "--landing", str(landing), "--warehouse", str(wh),
                          "--date", day(3).isoformat()], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAILED" in bad.stderr and "left as it was" in bad.stderr
    assert wh.read_bytes() == before
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT run_date FROM mart.publication").fetchone()[0] == day(2)
    con.close()
