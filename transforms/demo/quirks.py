"""Bookkeeping of injected quirks, seeded picking and file timestamps shared by all feeds."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

CN_OFFSET_H = 8  # Asia/Shanghai has no DST


@dataclass
class QuirkLog:
    """Every injected oddity, so tests and the lead can assert on it."""

    landing: Path
    items: list[dict] = field(default_factory=list)

    def add(self, kind: str, path: Path, detail: str = "", **extra) -> None:
        rel = Path(path).relative_to(self.landing).as_posix()
        self.items.append({"kind": kind, "path": rel, "detail": detail, **extra})


def pick(rng: np.random.Generator, n: int, rate: float, minimum: int = 1) -> set[int]:
    """Indices of a seeded sample of about rate*n, at least `minimum` so every quirk shows up."""
    k = min(n, max(minimum, int(round(rate * n))))
    return set(rng.choice(n, size=k, replace=False).tolist()) if k else set()


def mtime_for(day: date, hours_after_midnight: float, offset_h: int = CN_OFFSET_H) -> float:
    """Epoch seconds of `day` 00:00 local + hours (files of a day land the next night ~01:00)."""
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=offset_h)))
    return (local_midnight + timedelta(hours=hours_after_midnight)).timestamp()


def write_bytes(path: Path, data: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
