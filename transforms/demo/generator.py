"""Seeded demo landing zone: reference, feeds A, B and C with the quirks of feeds.md."""
from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from .event_files import write_events
from .item_events import simulate
from .quirks import QuirkLog
from .reference import EXPANDED_OFFICE, capacity_change_day, write_reference
from .report_feeds import write_report_feed
from .report_tables import customs_centre_table, exchange_office_table
from .volume_profile import peak_window


def generate(landing: Path, start: date | None = None, days: int = 90, seed: int = 7,
             scale: float = 1.0, quirks: bool = True) -> dict:
    """Write a landing zone for `days` days from `start` (default: the days ending yesterday).

    Same arguments give the same bytes and modification times. With quirks=False the feeds are
    clean: Chinese-header UTF-8 CSV reports with ISO dates, one delivery per site-day, no bad
    rows, no duplicate events, no unreadable files.
    """
    landing = Path(landing)
    if days < 1:
        raise ValueError("days must be >= 1")
    start = start or (date.today() - timedelta(days=days))
    # one independent stream per feed, so changing one feed does not reshuffle the others
    streams = [np.random.default_rng([seed, k]) for k in range(4)]
    log = QuirkLog(landing)
    for feed in ("reference", "exchange_office", "customs_centre", "item_events"):
        if (landing / feed).exists():
            shutil.rmtree(landing / feed)  # a stale file of an earlier run would break determinism

    _, ref = write_reference(landing, start, days)
    files = {"reference": 1}
    a = exchange_office_table(ref, start, days, streams[0])
    files["exchange_office"] = write_report_feed("exchange_office", a, ref, landing, start, days, streams[1], log,
                                                 quirks=quirks)
    b = customs_centre_table(ref, start, days, streams[0])
    files["customs_centre"] = write_report_feed("customs_centre", b, ref, landing, start, days, streams[2], log,
                                                quirks=quirks)
    sim = simulate(ref, start, days, scale, streams[3])
    ev = write_events(sim, landing, start, days, streams[3], log, quirks=quirks)
    files["item_events"] = ev.pop("files")
    p0, p1 = peak_window(start, days)
    return {
        "landing": str(landing),
        "start": start.isoformat(),
        "end": (start + timedelta(days=days - 1)).isoformat(),
        "days": days, "seed": seed, "scale": scale,
        "files": files,
        "items": sim.items.height,
        "events": ev.pop("events"),
        "event_quirk_counts": ev,
        "peak": [p0.isoformat(), p1.isoformat()],
        "capacity_change": {"office_code": EXPANDED_OFFICE, "from": capacity_change_day(start, days).isoformat()},
        "quirk_counts": dict(sorted(Counter(q["kind"] for q in log.items).items())),
        "quirks": log.items,
    }
