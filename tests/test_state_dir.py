"""CLEARCAP_STATE: the private state directory apart from the published files, so that readers
(the compose `reader`, Superset, analysts' tools) mount a directory holding only what is published."""
from __future__ import annotations

import pytest

from pipeline_helpers import day, make_landing
from transforms.config import Paths


def test_state_env_applies_to_its_warehouse_only(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEARCAP_WAREHOUSE", str(tmp_path / "pub" / "warehouse.duckdb"))
    monkeypatch.setenv("CLEARCAP_STATE", str(tmp_path / "private"))
    paths = Paths.from_args()
    assert paths.state_dir == (tmp_path / "private").resolve()
    assert paths.state_db == (tmp_path / "private" / "state.duckdb").resolve()
    # the same warehouse named explicitly is still the one CLEARCAP_STATE was set for
    assert Paths.from_args(None, tmp_path / "pub" / "warehouse.duckdb").state_dir == paths.state_dir
    # another warehouse never shares that state
    other = Paths.from_args(None, tmp_path / "other" / "w.duckdb")
    assert other.state_dir == (tmp_path / "other" / "w.state").resolve()
    monkeypatch.delenv("CLEARCAP_STATE")
    assert Paths.from_args().state_dir == (tmp_path / "pub" / "warehouse.state").resolve()


@pytest.mark.slow
def test_run_with_state_apart_publishes_only_published_files(tmp_path, monkeypatch, clearcap_run):
    landing = make_landing(tmp_path, days=2)
    pub, private = tmp_path / "published", tmp_path / "private"
    warehouse = pub / "warehouse.duckdb"
    monkeypatch.setenv("CLEARCAP_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CLEARCAP_STATE", str(private))
    monkeypatch.setenv("CLEARCAP_DATADOCS_NIGHTS", "1")
    clearcap_run(landing, warehouse, day(1), day(2))
    assert {p.name for p in pub.iterdir()} == {"warehouse.duckdb", "warehouse_dashboard.html", "warehouse_datadocs",
                                             "warehouse_lineage.html", "warehouse_items"}
    # Data Docs: one copy of GX's static assets, the newest night only (issue 11)
    docs = pub / "warehouse_datadocs"
    assert {p.name for p in docs.iterdir()} == {"index.html", "static", day(2).isoformat()}
    assert list(docs.rglob("static")) == [docs / "static"]
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert day(2).isoformat() in index and day(1).isoformat() not in index
    assert (private / "state.duckdb").is_file() and any((private / "ingest").iterdir())
