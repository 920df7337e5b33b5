"""What the readers hand back: typed rows, parse-level rejects, report totals, file errors."""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

QUARANTINE_SCHEMA = {"_line": pl.Int64, "_raw": pl.Utf8, "rule": pl.Utf8, "detail": pl.Utf8}
TOTALS_SCHEMA = {"column": pl.Utf8, "reported_total": pl.Float64, "rows_sum": pl.Float64, "_line": pl.Int64}
# Columns every report/reference row carries after its canonical columns.
LINEAGE_SCHEMA = {"_line": pl.Int64, "_raw": pl.Utf8, "_extra": pl.Utf8}


@dataclass
class ReportRead:
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    totals: pl.DataFrame
    rows_read: int                          # data rows (title, blank, total and subtotal rows excluded)
    file_error: tuple[str, str] | None
    encoding: str | None
    subtotal_lines: list[int] = field(default_factory=list)  # skipped subtotal rows, not data


@dataclass
class EventsRead:
    rows_read: int                          # non-blank data lines (CSV header excluded)
    rows_ok: int                            # lines written to the rows parquet
    rows_quarantined: int                   # lines written to the quarantine parquet
    file_error: tuple[str, str] | None
    format: str                             # 'jsonl' or 'csv'
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)


def empty_frame(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def failure(rule: str, reason: str) -> tuple[str, str]:
    """(rule, detail) of a rejected file or row: the detail starts with its rule, written once here."""
    return rule, f"{rule}: {reason}"


def failed_report(schema: dict, error: tuple[str, str], encoding: str | None = None) -> ReportRead:
    """A file that cannot be read at all: empty frames with the right dtypes, and the (rule, detail)."""
    return ReportRead(rows=empty_frame(schema), quarantine=empty_frame(QUARANTINE_SCHEMA),
                      totals=empty_frame(TOTALS_SCHEMA), rows_read=0,
                      file_error=error, encoding=encoding)
