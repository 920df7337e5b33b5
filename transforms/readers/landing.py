"""Which landing-zone paths are ready, and which feed and date folder they belong to."""
from __future__ import annotations

import re
from datetime import date

NOT_READY_SUFFIXES = (".part", ".tmp")
_DATED = re.compile(
    r"(?P<feed>exchange_office|customs_centre)/(?P<day>\d{4}-\d{2}-\d{2})/[^/]+\.(?i:csv|xlsx)"
    r"|(?P<efeed>item_events)/(?P<eday>\d{4}-\d{2}-\d{2})/[^/]+\.(?i:jsonl|csv)(?i:\.gz)?"
)


def is_ready(name: str) -> bool:
    """A file still being copied carries a .part or .tmp suffix; hidden files are never reports."""
    base = name.rsplit("/", 1)[-1]
    return bool(base) and not base.startswith(".") and not base.lower().endswith(NOT_READY_SUFFIXES)


def detect_feed(rel_path: str) -> tuple[str, date | None] | None:
    """(feed, folder_date) of a landing-relative path, or None when not ready or not a feed file."""
    rel = rel_path.replace("\\", "/").lstrip("/")
    if not is_ready(rel):
        return None
    if rel == "reference/offices.csv":
        return "reference", None
    m = _DATED.fullmatch(rel)
    if not m:
        return None
    feed = m.group("feed") or m.group("efeed")
    day = m.group("day") or m.group("eday")
    try:
        return feed, date.fromisoformat(day)
    except ValueError:
        return None  # e.g. 2026-02-30: not a date folder
