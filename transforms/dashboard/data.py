"""Read the published marts for the dashboard: read-only, a few queries, closed at once.

``load_dashboard_data(warehouse)`` returns the page's inline data, a JSON-able dict. Each table is
columnar (``{"columns": [...], "rows": [[...], ...]}``), dates as ISO text, non-finite floats as
null, other floats to 6 significant digits (the page shows at most 3). Tables or columns missing
from the warehouse are tolerated: a missing table gives ``{"available": False, "columns": [...],
"rows": []}``, a missing column reads as null.

The page inlines the whole months covering the last ``max_days`` days. Older data is split by
calendar month into period files the page loads on demand (``read_dashboard``): each month has a
version, a hash of its rows computed in DuckDB, so a nightly build serializes only the inline
window and the months whose rows changed (a rerun, a backfill, a late file, a redefinition).
"""

from __future__ import annotations

import hashlib
import json
import math
import time as time_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from transforms.db import quote_ident

# table -> (wanted columns, ORDER BY, optional WHERE built from the date window)
# Columns absent from the warehouse are selected as NULL under the same name.
TABLES: dict[str, dict[str, Any]] = {
    "offices": {
        "columns": ["office_code", "office_type", "name_zh", "name_en", "province", "city",
                    "capacity_in_per_day", "capacity_out_per_day", "valid_from", "valid_to"],
        "order": "office_code, valid_from",
    },
    "office_daily": {
        "columns": ["office_code", "report_date", "direction", "items_received",
                    "items_dispatched", "capacity_per_day", "load_factor", "utilization",
                    "backlog_days", "reported"],
        "order": "report_date, office_code, direction", "date": "report_date",
    },
    "customs_dwell_daily": {
        "columns": ["office_code", "release_date", "direction", "n_released", "dwell_p50_h",
                    "dwell_p90_h", "share_within_24h"],
        "order": "release_date, office_code, direction", "date": "release_date",
    },
    "national_daily": {
        "columns": ["report_date", "direction", "items_received", "items_dispatched",
                    "capacity_per_day", "utilization", "offices_reporting", "offices_expected",
                    "n_released", "dwell_p50_h", "share_within_24h"],
        "order": "report_date, direction", "date": "report_date",
    },
    "centre_daily": {
        "columns": ["centre_code", "report_date", "direction", "regime", "declarations_lodged",
                    "declarations_released", "declarations_inspected", "release_rate",
                    "mean_release_h", "load_factor"],
        "order": "report_date, centre_code, direction, regime", "date": "report_date",
    },
    "capacity_outlook": {
        "columns": ["office_code", "direction", "as_of_date", "mean_28d", "p95_28d",
                    "capacity_per_day", "headroom", "growth_monthly", "breach_date"],
        "order": "as_of_date, office_code, direction", "date": "as_of_date",
    },
    "lane_weekly": {
        "columns": ["origin_office", "destination_country", "iso_week", "items_dispatched",
                    "items_arrived", "leg_p50_days", "leg_p90_days"],
        "order": "iso_week, origin_office, destination_country",
        "text_since": ("iso_week", lambda d: "%04d-W%02d" % d.isocalendar()[:2]),
        # an ISO week belongs to the month of its Monday
        "month": "strftime(strptime(iso_week || '-1', '%G-W%V-%u'), '%Y-%m')",
    },
    "destination_monthly": {
        "columns": ["destination_country", "month", "items_dispatched", "share", "growth_mom",
                    "growth_yoy"],
        "order": "month, destination_country",
        "text_since": ("month", lambda d: d.strftime("%Y-%m")),
        "month": "month",
    },
    "office_stay_daily": {
        "columns": ["scope", "office_code", "departure_date", "direction", "n_items",
                    "to_customs_p50_h", "customs_p50_h", "after_release_p50_h", "stay_n",
                    "stay_p50_h", "stay_p90_h", "stay_share_within_48h"],
        "order": "departure_date, scope, office_code, direction", "date": "departure_date",
    },
    "alerts": {
        "columns": ["as_of_date", "severity", "office_code", "kind", "value", "threshold",
                    "message_zh", "message_en", "message", "direction", "state", "first_fired"],
        "order": "as_of_date, severity, office_code", "date": "as_of_date",
    },
    "load_ledger": {
        "columns": ["file_id", "path", "feed", "report_date", "status", "rows_read",
                    "rows_loaded", "rows_quarantined", "rows_duplicate", "first_seen_at",
                    "loaded_at"],
        "order": "report_date, feed, path", "date": "report_date",
    },
    "quality_daily": {
        "columns": ["feed", "report_date", "check_name", "expectation", "column_name", "severity",
                    "success", "observed_value", "rows_failed", "offices_missing"],
        "order": "report_date, feed, check_name", "date": "report_date",
    },
}
# mart.quarantine can be large (one row per rejected row): aggregated in SQL, plus a sample.
QUARANTINE_COLUMNS = ["feed", "path", "line", "rule", "detail", "raw", "run_date"]
QUARANTINE_SUMMARY_COLUMNS = ["run_date", "feed", "rule", "n_rows", "n_files", "n_file_level"]
QUARANTINE_SAMPLE = 200
# Bumped when what a period file holds changes: every month is then written again.
PERIOD_FORMAT = 1


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, (float, Decimal)):
        f = float(v)
        return float(f"{f:.6g}") if math.isfinite(f) else None
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return v.total_seconds() / 3600.0
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    return str(v)


def _iso_week_monday(text: Any) -> str | None:
    """'2026-W09' -> ISO date of that week's Monday (None when unparseable)."""
    try:
        y, w = str(text).split("-W")
        return date.fromisocalendar(int(y), int(w), 1).isoformat()
    except (ValueError, TypeError):
        return None


def _as_list(v: Any) -> list[str]:
    """offices_missing may be a VARCHAR[] or text (JSON list, comma/space separated)."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v if x is not None and str(x) != ""]
    s = str(v).strip()
    if not s:
        return []
    if s.startswith("["):
        try:
            parsed = json.loads(s)
            if isinstance(parsed, list):
                return [str(x) for x in parsed if x is not None and str(x) != ""]
        except ValueError:
            s = s.strip("[]")
    return [p.strip().strip("'\"") for p in s.replace(";", ",").replace(" ", ",").split(",")
            if p.strip().strip("'\"")]


def _observed(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _table(columns: list[str], rows: list[tuple], available: bool) -> dict:
    return {"available": available, "columns": columns,
            "rows": [[_jsonable(x) for x in r] for r in rows]}


def _connect_read_only(warehouse: Path, attempts: int = 5, pause: float = 0.5):
    """Read-only connection; retried briefly if a writer holds the file lock (never waits long:
    the published file is replaced atomically, so a lock is only ever momentary)."""
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time_module.sleep(pause)
    raise AssertionError("unreachable")


@dataclass
class DashboardData:
    """One build's reading: the page's inline data, and the tables of the older months to
    (re)write as period files (month -> {table: columnar table})."""
    inline: dict
    periods: dict[str, dict] = field(default_factory=dict)


@dataclass
class _Source:
    """One table of the page as a query over the warehouse, and its date window."""
    name: str
    columns: list[str]
    sql: str                      # SELECT producing ``columns``
    order: str
    window: str | None = None     # output column compared with the start of the inline window
    bound: Any = None             # date -> the value that column is compared with
    month: str | None = None      # SQL of a row's month ('YYYY-MM'), over the output columns


def _sources(present: dict[str, set[str]]) -> list[_Source]:
    out = []
    for table, spec in TABLES.items():
        if table not in present:
            continue
        have = present[table]
        exprs = {c: quote_ident(c) if c in have else f"NULL AS {quote_ident(c)}" for c in spec["columns"]}
        if table == "quality_daily" and {"success", "observed_value"} <= have:
            # the page shows the observation of failed checks only: the rest would be most of its bytes
            exprs["observed_value"] = "CASE WHEN success = false THEN observed_value END AS observed_value"
        src = _Source(table, spec["columns"], f"SELECT {', '.join(exprs.values())} FROM mart.{quote_ident(table)}",
                      ", ".join(quote_ident(c.strip()) for c in spec["order"].split(",") if c.strip() in have))
        if spec.get("date") in have:
            src.window, src.bound = spec["date"], lambda d: d
            src.month = f"strftime({quote_ident(spec['date'])}, '%Y-%m')"
        elif spec.get("text_since", ("",))[0] in have:
            src.window, src.bound = spec["text_since"]
            src.month = spec["month"]
        out.append(src)
    if "quarantine" in present:
        # mart.quarantine can be large (one row per rejected row): aggregated in SQL
        have = present["quarantine"]
        sel = ", ".join(quote_ident(c) if c in have else f"NULL AS {quote_ident(c)}"
                        for c in ("run_date", "feed", "rule", "path", "line"))
        src = _Source("quarantine_summary", QUARANTINE_SUMMARY_COLUMNS,
                      "SELECT run_date, feed, rule, count(*) AS n_rows, count(DISTINCT path) AS n_files, "
                      "count(*) FILTER (WHERE line IS NULL) AS n_file_level "
                      f"FROM (SELECT {sel} FROM mart.quarantine) GROUP BY ALL", "ALL")
        if "run_date" in have:
            src.window, src.bound, src.month = "run_date", (lambda d: d), "strftime(run_date, '%Y-%m')"
        out.append(src)
    return out


def _rows(con, src: _Source, where: str = "", params: list | None = None, extra: str = "") -> list[tuple]:
    sql = f"SELECT *{extra} FROM ({src.sql}) AS _t{where}"
    if src.order:
        sql += f" ORDER BY {src.order}"
    return con.execute(sql, params or []).fetchall()


def _versions(con, sources: list[_Source], since: date) -> dict[str, str]:
    """month -> version of the rows before ``since``: a hash of every source's rows of the month,
    computed in DuckDB (the older months are never serialized to find out what changed)."""
    parts: dict[str, list] = {}
    for src in sources:
        if src.month is None:
            continue
        cols = ", ".join(quote_ident(c) for c in src.columns)
        for month, n, h in con.execute(
                f"SELECT {src.month} AS _m, count(*), sum(hash({cols})::HUGEINT) FROM ({src.sql}) AS _t "
                f"WHERE {quote_ident(src.window)} < ? GROUP BY ALL", [src.bound(since)]).fetchall():
            parts.setdefault(month, []).append((src.name, n, str(h)))
    shape = json.dumps([PERIOD_FORMAT, {s.name: s.columns for s in sources}])
    return {m: hashlib.sha256(json.dumps([shape, sorted(p)]).encode()).hexdigest()[:16]
            for m, p in sorted(parts.items())}


def _finish(tables: dict[str, dict]) -> None:
    """Derived columns and normalized values, with the warehouse closed (inline and period tables)."""
    lw = tables.get("lane_weekly")
    if lw is not None:
        wk = lw["columns"].index("iso_week")
        lw["columns"] = lw["columns"] + ["week_start"]
        lw["rows"] = [r + [_iso_week_monday(r[wk])] for r in lw["rows"]]
    al = tables.get("alerts")
    if al is not None:
        zh, en, msg = (al["columns"].index(c) for c in ("message_zh", "message_en", "message"))
        for r in al["rows"]:
            if r[zh] is None and r[en] is None and r[msg] is not None:
                r[zh] = r[en] = r[msg]
    qd = tables.get("quality_daily")
    if qd is not None:
        om, ob = qd["columns"].index("offices_missing"), qd["columns"].index("observed_value")
        for r in qd["rows"]:
            r[om] = _as_list(r[om])
            r[ob] = _observed(r[ob])


def read_dashboard(warehouse: Path, max_days: int = 400,
                   written: Mapping[str, str] | None = None) -> DashboardData:
    """Read what the dashboard needs from ``warehouse`` (opened read-only, closed at once).

    Day-grain tables are inlined from the first day of the month ``max_days - 1`` days before
    the latest day found. ``written``: month -> version of the period files already beside
    the page; the older months whose version differs are read into ``periods``. None: read no
    period (the inline data still lists every older month and its version).
    """
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    raw: dict[str, tuple[list[str], list[tuple], bool]] = {}
    by_month: dict[str, dict[str, list]] = {}
    versions: dict[str, str] = {}
    changed: list[str] = []
    q_sample: list[tuple] = []
    con = _connect_read_only(warehouse)
    try:
        present: dict[str, set[str]] = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'mart'"
        ).fetchall():
            present.setdefault(table, set()).add(column)

        # Latest day over the day-grain tables: the anchor of the date window.
        latest_parts = [
            f"SELECT max({quote_ident(spec['date'])})::DATE AS d FROM mart.{quote_ident(t)}"
            for t, spec in TABLES.items()
            if "date" in spec and spec["date"] in present.get(t, set())
            and t in ("office_daily", "national_daily", "customs_dwell_daily", "centre_daily")
        ]
        latest = None
        if latest_parts:
            latest = con.execute(
                f"SELECT max(d) FROM ({' UNION ALL '.join(latest_parts)})").fetchone()[0]
        since = (latest - timedelta(days=max_days - 1)).replace(day=1) if latest else None

        sources = _sources(present)
        for src in sources:
            if since is not None and src.window:
                rows = _rows(con, src, f" WHERE {quote_ident(src.window)} >= ?", [src.bound(since)])
            else:
                rows = _rows(con, src)
            raw[src.name] = (src.columns, rows, True)
        if since is not None:
            versions = _versions(con, sources, since)
            changed = sorted(m for m, v in versions.items() if written is not None and written.get(m) != v)
        if changed:
            first = date.fromisoformat(changed[0] + "-01")
            for src in (s for s in sources if s.month):
                window = quote_ident(src.window)
                for r in _rows(con, src, f" WHERE {window} >= ? AND {window} < ? "
                               f"AND list_contains(?::VARCHAR[], {src.month})",
                               [src.bound(first), src.bound(since), changed], f", {src.month} AS _m"):
                    by_month.setdefault(r[-1], {}).setdefault(src.name, []).append(r[:-1])
        q_available = "quarantine" in present
        if q_available:
            have = present["quarantine"]
            sel = ", ".join(quote_ident(c) if c in have else f"NULL AS {quote_ident(c)}" for c in QUARANTINE_COLUMNS)
            where, params = "", []
            if since is not None and "run_date" in have:
                where, params = " WHERE run_date >= ?", [since]
            order = "run_date DESC NULLS LAST" if "run_date" in have else "1"
            q_sample = con.execute(
                f"SELECT {sel} FROM mart.quarantine{where} ORDER BY {order} LIMIT {QUARANTINE_SAMPLE}",
                params).fetchall()
    finally:
        con.close()

    # ---- post-processing, with the warehouse closed ---------------------------------------
    data: dict[str, Any] = {}
    for table, spec in TABLES.items():
        cols, rows, available = raw.get(table, (spec["columns"], [], False))
        data[table] = _table(cols, rows, available)
    cols, rows, available = raw.get("quarantine_summary", (QUARANTINE_SUMMARY_COLUMNS, [], False))
    data["quarantine_summary"] = _table(cols, rows, available)
    data["quarantine_sample"] = _table(QUARANTINE_COLUMNS, q_sample, q_available)
    _finish(data)
    periods = {}
    for month in sorted(by_month):
        tables = {src.name: _table(src.columns, by_month[month].get(src.name, []), True)
                  for src in sources if src.month}
        _finish(tables)
        periods[month] = tables
    data["meta"] = {
        "latest_date": latest.isoformat() if latest else None,
        "since": since.isoformat() if since else None,
        "warehouse": warehouse.name,
        "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "max_days": max_days,
        # older months, loaded on demand from period files
        "periods": [{"month": m, "version": v} for m, v in versions.items()],
    }
    return DashboardData(data, periods)


def load_dashboard_data(warehouse: Path, max_days: int = 400) -> dict:
    """The page's inline data (see ``read_dashboard``)."""
    return read_dashboard(warehouse, max_days).inline
