"""Quality gate: Great Expectations suites (``expectations/*.json``) run as SQL inside DuckDB.

Contract (docs/architecture.md, "Quality contract")::

    validate(con, table, suite_name, id_column="_row_id", where=None) -> list[RuleOutcome]

Importing this package does NOT import great_expectations (about 9 s): the GX machinery lives
in ``transforms.quality.engine`` / ``s10`` and is imported on first use, so the
Airflow DAG can import ``transforms`` at parse time.

Pinned behaviour relied upon (tests/test_quality_engine.py fails if an upgrade breaks it):
great-expectations 1.24.x, duckdb-engine 0.17.x, duckdb 2.0.x, SQLAlchemy 2.1.x.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = [
    "RuleOutcome",
    "SuiteRun",
    "Report",
    "QualityError",
    "expectations_dir",
    "load_suite_json",
    "validate",
    "validate_many",
    "build_data_docs",
]

SEVERITIES = ("row", "file", "error", "warning")


class QualityError(RuntimeError):
    """A suite could not be loaded or an expectation could not run (not a data failure)."""


@dataclass
class RuleOutcome:
    rule: str
    severity: str
    expectation_type: str
    column: str | None
    success: bool
    observed: dict
    failing_ids_sql: str | None  # SELECT of id_column of failing rows
    detail_columns: tuple[str, ...] = ()  # meta.detail_columns: what a quarantine detail shows


@dataclass
class SuiteRun:
    table: str
    suite_name: str
    outcomes: list[RuleOutcome]
    result: Any = field(repr=False)  # GX ExpectationSuiteValidationResult (for Data Docs)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)


@dataclass
class Report:
    runs: list[SuiteRun]

    @property
    def outcomes(self) -> list[RuleOutcome]:
        return [o for run in self.runs for o in run.outcomes]

    @property
    def results(self) -> list[Any]:
        return [run.result for run in self.runs]

    @property
    def success(self) -> bool:
        return all(run.success for run in self.runs)


def expectations_dir() -> Path:
    """``$CLEARCAP_EXPECTATIONS``, else the suites shipped in the package: ``transforms/expectations``
    links to the repository's ``expectations/`` in a checkout (editable install) and is a copy of it
    in a wheel (package data), so a normal install finds them too."""
    env = os.environ.get("CLEARCAP_EXPECTATIONS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "expectations"


def load_suite_json(suite_name: str) -> dict:
    path = expectations_dir() / f"{suite_name}.json"
    if not path.exists():
        raise QualityError(f"suite {suite_name!r} not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def validate(
    con: "duckdb.DuckDBPyConnection",
    table: str,
    suite_name: str,
    id_column: str = "_row_id",
    where: str | None = None,
) -> list[RuleOutcome]:
    """Validate ``table`` (``schema.name``) of the open connection with suite ``suite_name``.

    ``where``: optional SQL predicate restricting the batch. For failing expectations whose
    table has ``id_column``, ``failing_ids_sql`` selects exactly the ids of the failing rows.
    """
    return validate_many(con, [(table, suite_name)], id_column=id_column, where=where).outcomes


def validate_many(
    con: "duckdb.DuckDBPyConnection",
    checks: Sequence[tuple],
    id_column: str | None = "_row_id",
    where: str | None = None,
    raise_on_error: bool = True,
) -> Report:
    """Several ``(table, suite_name[, where])`` checks with one GX context and one cursor."""
    from .engine import validate_many as _impl

    return _impl(con, checks, id_column=id_column, where=where, raise_on_error=raise_on_error)


def build_data_docs(report_or_results: Any, out_dir: Path, run_name: str | None = None,
                    static_dir: Path | None = None) -> Path:
    """GX HTML Data Docs of a Report (or SuiteRuns / GX results) in ``out_dir``; returns index.html.
    ``static_dir``: one copy of GX's static assets shared by several sites (default: the site's own)."""
    from .engine import build_data_docs as _impl

    return _impl(report_or_results, Path(out_dir), run_name=run_name, static_dir=static_dir)
