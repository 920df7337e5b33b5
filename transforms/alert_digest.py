"""What the morning's alerts say, in the order people read them: first what changed since the
previous published night (new, escalated, resolved), then one line per kind for the conditions
that simply continue. Shared by the briefing and the notifier (the dashboard does the same in
its template). Works on one night's mart.alerts rows: a few hundred at most."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

LEADING_STATES = ("new", "escalated", "resolved")
_STATE_ORDER = {"escalated": 0, "new": 1, "resolved": 2}
_SEVERITY_ORDER = {"critical": 0, "warning": 1}


@dataclass
class ContinuingKind:
    kind: str
    count: int
    critical: int
    offices: list[str]
    since: str | None          # earliest first_fired among them

    def line(self, max_offices: int = 8) -> str:
        shown = ", ".join(self.offices[:max_offices])
        more = f" +{len(self.offices) - max_offices}" if len(self.offices) > max_offices else ""
        return (f"{self.kind}: {self.count} continuing 持续 ({self.critical} critical 严重), "
                f"since 自 {self.since}: {shown}{more}")


def state_of(row: dict) -> str:
    # rows published before alerts had a state read as new
    return row.get("state") or "new"


def leading(rows: list[dict]) -> list[dict]:
    """New, escalated and resolved alerts: escalated first, then new, then resolved; critical
    first within each, then by value."""
    lead = [r for r in rows if state_of(r) in LEADING_STATES]
    return sorted(lead, key=lambda r: (_STATE_ORDER[state_of(r)], _SEVERITY_ORDER.get(r["severity"], 2),
                                       -(r["value"] if r.get("value") is not None else float("-inf")),
                                       r.get("office_code") or ""))


def continuing(rows: list[dict]) -> list[ContinuingKind]:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if state_of(r) == "continuing":
            by_kind[r["kind"]].append(r)
    out = []
    for kind, rs in by_kind.items():
        since = min((str(r["first_fired"]) for r in rs if r.get("first_fired") is not None), default=None)
        offices = sorted({f"{r['office_code']}" + (f" {r['direction']}" if r.get("direction") else "")
                          for r in rs})
        out.append(ContinuingKind(kind, len(rs), sum(r["severity"] == "critical" for r in rs), offices, since))
    return sorted(out, key=lambda k: (-k.critical, -k.count, k.kind))
