"""National daily volume curve: weekly rhythm, growth trend and a peak (11.11 or a two-week surge)."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Monday..Sunday: e-commerce dispatches peak early week, weekends are quiet.
WEEKDAY_FACTOR = np.array([1.12, 1.08, 1.04, 1.00, 0.98, 0.86, 0.80])
GROWTH_PER_DAY = 0.0025  # ~8 % a month, typical of cross-border e-commerce


def peak_window(start: date, days: int) -> tuple[date, date]:
    """11.11 shopping festival aftermath when in the period, else a surge at 60 % of the period."""
    end = start + timedelta(days=days - 1)
    for year in (start.year, end.year):
        d11 = date(year, 11, 11)
        if start <= d11 <= end:
            return d11, d11 + timedelta(days=13)
    mid = start + timedelta(days=int(days * 0.6))
    return mid, mid + timedelta(days=13)


def daily_factor(start: date, days: int) -> np.ndarray:
    """Multiplier per day (mean ~1 at period start, before peaks)."""
    dates = [start + timedelta(days=i) for i in range(days)]
    weekday = WEEKDAY_FACTOR[[d.weekday() for d in dates]]
    trend = np.exp(GROWTH_PER_DAY * np.arange(days))
    p0, p1 = peak_window(start, days)
    k = np.array([(d - p0).days for d in dates])
    in_peak = (k >= 0) & (k <= (p1 - p0).days)
    # sharp rise in the first days then decaying: a surge of up to +45 %
    peak = np.where(in_peak, 1.0 + 0.45 * np.exp(-np.maximum(k - 2, 0) / 6.0), 1.0)
    return weekday * trend * peak
