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

# The files that run pipeline nights, longest first (`make test --durations` of sessions 8, 9).
# `make test` hands each pytest-xdist worker whole files (--dist loadfile) in collection order:
# the long files start first and the short ones fill the end. xdist's own order (most tests
# first) started the few-test files of several minutes last, one worker idle meanwhile.
LONGEST_FIRST = [
    "test_incremental.py", "test_history_wiring.py", "test_demo_alerts.py",
    "test_pipeline_steps.py", "test_kill_points.py", "test_mutation_campaign.py", "test_marts_definitions.py",
    "test_backfill.py", "test_production_tier.py", "test_dbt_project.py",
    "test_items_published.py", "test_sql_quoting.py", "test_dashboard.py",
    "test_marts_formulas.py", "test_airflow_run.py", "test_input_rules.py",
    "test_publish_safety.py", "test_state_dir.py", "test_notify.py", "test_quality_gate.py",
    "test_analyst_docs.py",
]


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist present
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order kept


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
