"""Readers: one landing file -> typed rows plus parse-level rejects (contract in docs/architecture.md)."""
from transforms.readers.events import read_events
from transforms.readers.landing import detect_feed, is_ready
from transforms.readers.reference import overlapping_periods, read_reference
from transforms.readers.reports import read_report, totals_mismatch
from transforms.readers.results import EventsRead, ReportRead

__all__ = ["EventsRead", "ReportRead", "detect_feed", "is_ready", "overlapping_periods", "read_events",
           "read_reference", "read_report", "totals_mismatch"]
