"""Reference offices: the static list shipped with the demo, dated into a validity history."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from .quirks import mtime_for, write_bytes

STATIC_CSV = Path(__file__).with_name("offices.csv")
HISTORY_START = date(2020, 1, 1)
# An expansion project finishing mid-period: this office gets a second, larger row.
EXPANDED_OFFICE = "CNHGHA"
EXPANSION_FACTOR = 1.4
REFERENCE_COLUMNS = [
    "office_code", "office_type", "name_zh", "name_en", "province", "city", "tz",
    "capacity_in_per_day", "capacity_out_per_day", "valid_from", "valid_to",
]


def static_offices() -> pl.DataFrame:
    """The shipped list, with the demo-only `handles_transit` flag."""
    return pl.read_csv(STATIC_CSV, schema_overrides={"tz": pl.Utf8}).with_columns(pl.col("tz").fill_null(""))


def capacity_change_day(start: date, days: int) -> date:
    return start + timedelta(days=max(1, days // 2))


def reference_rows(start: date, days: int) -> pl.DataFrame:
    """One row per office per validity period; the expanded office has two adjacent periods."""
    base = static_offices().with_columns(
        pl.lit(HISTORY_START.isoformat()).alias("valid_from"), pl.lit("").alias("valid_to")
    )
    change = capacity_change_day(start, days)
    old = base.filter(pl.col("office_code") == EXPANDED_OFFICE).with_columns(
        pl.lit((change - timedelta(days=1)).isoformat()).alias("valid_to")
    )
    new = base.filter(pl.col("office_code") == EXPANDED_OFFICE).with_columns(
        ((pl.col("capacity_in_per_day") * EXPANSION_FACTOR / 1000).round(0) * 1000).cast(pl.Int64),
        ((pl.col("capacity_out_per_day") * EXPANSION_FACTOR / 1000).round(0) * 1000).cast(pl.Int64),
        pl.lit(change.isoformat()).alias("valid_from"),
    )
    rest = base.filter(pl.col("office_code") != EXPANDED_OFFICE)
    return pl.concat([rest, old, new]).select(REFERENCE_COLUMNS)


def capacity_on(ref: pl.DataFrame, code: str, day: date, column: str) -> int:
    rows = ref.filter(
        (pl.col("office_code") == code)
        & (pl.col("valid_from") <= day.isoformat())
        & ((pl.col("valid_to") == "") | (pl.col("valid_to") >= day.isoformat()))
    )
    return int(rows[column][0])


def write_reference(landing: Path, start: date, days: int) -> tuple[Path, pl.DataFrame]:
    ref = reference_rows(start, days)
    path = landing / "reference" / "offices.csv"
    write_bytes(path, ref.write_csv().encode("utf-8"), mtime_for(start - timedelta(days=1), 1.0))
    return path, ref
