"""UPU S10 item identifiers, vectorised: two letters, 8-digit serial, check digit, country."""
from __future__ import annotations

import numpy as np
import polars as pl

WEIGHTS = np.array([8, 6, 4, 2, 3, 5, 9, 7])


def check_digits(serials: np.ndarray) -> np.ndarray:
    """Check digit of each 8-digit serial: 11 - (weighted sum mod 11); 10 -> 0, 11 -> 5."""
    s = np.asarray(serials, dtype=np.int64)
    digits = (s[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    c = 11 - (digits @ WEIGHTS) % 11
    return np.where(c == 10, 0, np.where(c == 11, 5, c)).astype(np.int64)


def item_ids(prefix: pl.Series, serials: np.ndarray, check: np.ndarray, country: pl.Series) -> pl.Series:
    """Assemble ids as strings without a Python loop."""
    df = pl.DataFrame({"p": prefix, "s": serials, "c": check, "k": country})
    return df.select(
        pl.concat_str(
            pl.col("p"),
            pl.col("s").cast(pl.Utf8).str.zfill(8),
            pl.col("c").cast(pl.Utf8),
            pl.col("k"),
        ).alias("item_id")
    ).to_series()
