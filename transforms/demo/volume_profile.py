"""National daily volume curve: weekly rhythm, growth trend and a peak (11.11 or a two-week surge)."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Monday..Sunday: e-commerce dispatches peak early week, weekends are quieter. Offices of
# exchange work through the week's mail with the flights, so their daily load swings a few
# per cent, not the posting curve's ±15 %: a wider swing makes every office near 0.85 of its
# capacity cross that line weekly, and the morning's alerts a wall of new ones.
WEEKDAY_FACTOR = np.array([1.04, 1.03, 1.01, 1.00, 0.99, 0.97, 0.96])
# ~4.5 % a month, typical of cross-border e-commerce; faster growth puts most offices within
# 180 days of 0.85 of capacity, and their capacity_breach alerts cross 180/90/30 days daily
GROWTH_PER_DAY = 0.0015
PEAK_RISE = 0.45         # the surge's height over the trend at its top


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
    """Multiplier per day: ~1 on the period's last day outside peaks, so the loads of the demo's
    last mornings are those the offices are tuned to (report_tables.HOT), whatever its length."""
    dates = [start + timedelta(days=i) for i in range(days)]
    weekday = WEEKDAY_FACTOR[[d.weekday() for d in dates]]
    trend = np.exp(GROWTH_PER_DAY * (np.arange(days) - (days - 1)))
    p0, p1 = peak_window(start, days)
    k = np.array([(d - p0).days for d in dates])
    width = (p1 - p0).days + 2
    # a smooth bump over the window, top a week in (orders of the festival being shipped):
    # rising and falling a few per cent a day, so offices cross 0.85 on different days
    phase = np.clip((k + 1) / width, 0.0, 1.0)
    peak = 1.0 + PEAK_RISE * np.sin(np.pi * phase) ** 2
    return weekday * trend * peak
