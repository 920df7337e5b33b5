"""Retention of the nightly Data Docs folders and the index over them (issue 11), on tiny
hand-made folders: no GX run needed."""
from __future__ import annotations

from datetime import date

import pytest

from transforms.config import datadocs_nights
from transforms.datadocs_index import night_folders, prune_nights, write_index


def _night(root, day: str) -> None:
    for step in ("batch", "marts"):
        page = root / day / step / "validations" / f"suite_{step}" / "run" / "page.html"
        page.parent.mkdir(parents=True)
        page.write_text("<html></html>", encoding="utf-8")


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "warehouse_datadocs"
    for d in range(1, 8):
        _night(root, f"2026-03-0{d}")
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "logo.png").write_bytes(b"png")
    (root / "notes").mkdir()  # not a night: left alone
    return root


def test_keeps_the_newest_nights_and_the_shared_assets(root):
    dropped = prune_nights(root, 3)
    assert [p.name for p in dropped] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert [p.name for p in night_folders(root)] == ["2026-03-05", "2026-03-06", "2026-03-07"]
    assert (root / "static" / "images" / "logo.png").read_bytes() == b"png" and (root / "notes").is_dir()
    assert prune_nights(root, 3) == []  # nothing more to do


def test_a_backfilled_night_survives_until_a_newer_night_prunes(root):
    prune_nights(root, 2, current=date(2026, 3, 2))
    assert [p.name for p in night_folders(root)] == ["2026-03-02", "2026-03-06", "2026-03-07"]
    prune_nights(root, 2, current=date(2026, 3, 7))
    assert [p.name for p in night_folders(root)] == ["2026-03-06", "2026-03-07"]


def test_index_lists_the_kept_nights_newest_first(root):
    prune_nights(root, 2)
    text = write_index(root).read_text(encoding="utf-8")
    assert text.index("2026-03-07") < text.index("2026-03-06")
    assert "2026-03-05" not in text and "static" not in text and "notes" not in text
    assert 'href="2026-03-07/batch/validations/suite_batch/run/page.html"' in text
    assert text.count("<li>") == 2 and text.count("<a href") == 4


def test_retention_setting(monkeypatch):
    monkeypatch.delenv("CLEARCAP_DATADOCS_NIGHTS", raising=False)
    assert datadocs_nights() == 90
    monkeypatch.setenv("CLEARCAP_DATADOCS_NIGHTS", "14")
    assert datadocs_nights() == 14
    for bad in ("0", "-3", "ninety", ""):
        monkeypatch.setenv("CLEARCAP_DATADOCS_NIGHTS", bad)
        with pytest.raises(ValueError, match="CLEARCAP_DATADOCS_NIGHTS"):
            datadocs_nights()
