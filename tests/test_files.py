"""transforms.files: the one atomic-write helper every writer of a whole file goes through."""
from __future__ import annotations

import stat

import pytest

from transforms.files import atomic_path, write_atomic


def test_write_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "page.html"
    assert write_atomic(target, "первый\n") == target
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_failed_writer_leaves_the_old_file(tmp_path):
    target = tmp_path / "rows.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.parquet"]
