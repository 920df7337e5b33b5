"""reference/offices.csv: one row per office per validity period."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from transforms.readers.columns import REFERENCE
from transforms.readers.reports import read_table
from transforms.readers.results import QUARANTINE_SCHEMA, ReportRead

DEFAULT_TZ = "Asia/Shanghai"
# The reader names a cell under no header "_colN" in _extra (reports keep such cells aside).
_UNNAMED_CELL = r'"_col\d+":'


def read_reference(path: Path) -> ReportRead:
    """Typed offices rows; an empty tz means Asia/Shanghai. Overlaps are a GX rule, not checked here.

    A row with a value under no header is rejected (rule extra_cells): in the reference that is
    a shifted row (an unquoted 120,000 splits into two cells), whose later cells cannot be
    trusted even when they parse."""
    res = read_table(Path(path), REFERENCE, allow_totals=False)
    if res.file_error is None:
        shifted = pl.col("_extra").str.contains(_UNNAMED_CELL).fill_null(False)
        rejects = res.rows.filter(shifted).select(
            "_line", "_raw", pl.lit("extra_cells").alias("rule"),
            pl.format("extra_cells: cells beyond the header or under an empty header: {}",
                      pl.col("_extra")).alias("detail"))
        res.quarantine = pl.concat([res.quarantine, rejects.cast(QUARANTINE_SCHEMA)]).sort("_line")
        res.rows = res.rows.filter(~shifted).with_columns(pl.col("tz").fill_null(DEFAULT_TZ))
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
