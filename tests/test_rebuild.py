"""`clearcap rebuild --from D1 --to D2` (issue 11) needs a built night. The rebuild itself, from
the item-level history with no landing zone, equal to the marts before: tests/test_history_wiring.py
(on the state whose items all left it)."""
from __future__ import annotations

import subprocess

from pipeline_helpers import clearcap, day, make_landing


def test_a_rebuild_needs_a_built_night(tmp_path):
    landing = make_landing(tmp_path, days=1, scale=0.005, seed=3)
    wh = tmp_path / "wh" / "w.duckdb"
    out = subprocess.run(**clearcap("rebuild", "--warehouse", str(wh), "--from", day(1).isoformat(),
                                    "--to", day(1).isoformat()), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "no built night to rebuild" in out.stderr
    assert not wh.exists() and landing.exists()
