"""Shared test helpers: run the pipeline in-process and open the published warehouse read-only."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # `import reference_impl`


def run_clearcap(landing: Path, warehouse: Path, first: date, last: date | None = None) -> None:
    """`clearcap run --landing L --warehouse W --date first [--to last]`, in this process."""
    from transforms.cli import main

    argv = ["run", "--landing", str(landing), "--warehouse", str(warehouse), "--date", first.isoformat()]
    if last is not None:
        argv += ["--to", last.isoformat()]
    rc = main(argv)
    assert rc == 0, f"clearcap {' '.join(argv)} exited {rc}"


def open_published(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


@pytest.fixture
def clearcap_run():
    return run_clearcap


@pytest.fixture
def published():
    cons = []

    def _open(warehouse: Path) -> duckdb.DuckDBPyConnection:
        con = open_published(warehouse)
        cons.append(con)
        return con

    yield _open
    for con in cons:
        con.close()
