"""reference/offices.csv: one row per office per validity period."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from transforms.readers.columns import REFERENCE
from transforms.readers.reports import read_table
from transforms.readers.results import ReportRead

DEFAULT_TZ = "Asia/Shanghai"


def read_reference(path: Path) -> ReportRead:
    """Typed offices rows; an empty tz means Asia/Shanghai. Overlaps are a GX rule, not checked here."""
    res = read_table(Path(path), REFERENCE, allow_totals=False)
    if res.file_error is None:
        res.rows = res.rows.with_columns(pl.col("tz").fill_null(DEFAULT_TZ))
    return res


def overlapping_periods(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows whose validity period overlaps another row of the same office (open end = forever)."""
    periods = rows.select(
        "office_code", "_line", "valid_from",
        pl.col("valid_to").fill_null(date.max).alias("_until"),
    )
    pairs = periods.join(periods, on="office_code", suffix="_other").filter(
        (pl.col("_line") != pl.col("_line_other"))
        & (pl.col("valid_from") <= pl.col("_until_other"))
        & (pl.col("valid_from_other") <= pl.col("_until"))
    )
    offending = pairs.select("_line").unique()
    return rows.join(offending, on="_line", how="semi").sort("_line")
