"""Read the published marts for the dashboard: read-only, a few queries, closed at once.

``load_dashboard_data(warehouse)`` returns a JSON-able dict. Each table is columnar
(``{"columns": [...], "rows": [[...], ...]}``), dates as ISO text, non-finite floats as null.
Tables or columns missing from the warehouse are tolerated: a missing table gives
``{"available": False, "columns": [...], "rows": []}``, a missing column reads as null.
"""

from __future__ import annotations

import json
import math
import time as time_module
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
    },
    "destination_monthly": {
        "columns": ["destination_country", "month", "items_dispatched", "share", "growth_mom",
                    "growth_yoy"],
        "order": "month, destination_country",
        "text_since": ("month", lambda d: d.strftime("%Y-%m")),
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
QUARANTINE_SAMPLE = 200


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
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


def load_dashboard_data(warehouse: Path, max_days: int = 400) -> dict:
    """Read everything the dashboard needs from ``warehouse`` (opened read-only, closed at once).

    Day-grain tables are limited to the ``max_days`` days ending on the latest day found.
    """
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    raw: dict[str, tuple[list[str], list[tuple], bool]] = {}
    q_summary: list[tuple] = []
    q_sample: list[tuple] = []
    q_cols: list[str] = []
    q_available = False
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
        since = latest - timedelta(days=max_days - 1) if latest else None

        for table, spec in TABLES.items():
            cols = spec["columns"]
            if table not in present:
                raw[table] = (cols, [], False)
                continue
            have = present[table]
            select = ", ".join(quote_ident(c) if c in have else f"NULL AS {quote_ident(c)}" for c in cols)
            order = ", ".join(quote_ident(c.strip()) for c in spec["order"].split(",")
                              if c.strip() in have)
            where, params = "", []
            if since is not None and spec.get("date") in have:
                where, params = f" WHERE {quote_ident(spec['date'])} >= ?", [since]
            elif since is not None and spec.get("text_since", ("",))[0] in have:
                column, fmt = spec["text_since"]
                where, params = f" WHERE {quote_ident(column)} >= ?", [fmt(since)]
            sql = f"SELECT {select} FROM mart.{quote_ident(table)}{where}"
            if order:
                sql += f" ORDER BY {order}"
            raw[table] = (cols, con.execute(sql, params).fetchall(), True)

        if "quarantine" in present:
            have = present["quarantine"]
            q_available = True
            q_cols = QUARANTINE_COLUMNS
            sel = {c: (quote_ident(c) if c in have else f"NULL AS {quote_ident(c)}") for c in q_cols}
            where, params = "", []
            if since is not None and "run_date" in have:
                where, params = " WHERE run_date >= ?", [since]
            grouped = ", ".join(sel[c] for c in ("run_date", "feed", "rule", "path", "line"))
            q_summary = con.execute(
                f"SELECT run_date, feed, rule, count(*) AS n_rows, "
                f"count(DISTINCT path) AS n_files, "
                f"count(*) FILTER (WHERE line IS NULL) AS n_file_level "
                f"FROM (SELECT {grouped} FROM mart.quarantine{where}) "
                f"GROUP BY ALL ORDER BY ALL", params).fetchall()
            order = "run_date DESC NULLS LAST" if "run_date" in have else "1"
            q_sample = con.execute(
                f"SELECT {', '.join(sel[c] for c in q_cols)} FROM mart.quarantine{where} "
                f"ORDER BY {order} LIMIT {QUARANTINE_SAMPLE}", params).fetchall()
    finally:
        con.close()

    # ---- post-processing, with the warehouse already closed -------------------------------
    data: dict[str, Any] = {}
    for table, (cols, rows, available) in raw.items():
        data[table] = _table(cols, rows, available)

    lw = data["lane_weekly"]
    wk = lw["columns"].index("iso_week")
    lw["columns"] = lw["columns"] + ["week_start"]
    lw["rows"] = [r + [_iso_week_monday(r[wk])] for r in lw["rows"]]

    al = data["alerts"]
    zh, en, msg = (al["columns"].index(c) for c in ("message_zh", "message_en", "message"))
    for r in al["rows"]:
        if r[zh] is None and r[en] is None and r[msg] is not None:
            r[zh] = r[en] = r[msg]

    qd = data["quality_daily"]
    om, ob = qd["columns"].index("offices_missing"), qd["columns"].index("observed_value")
    for r in qd["rows"]:
        r[om] = _as_list(r[om])
        r[ob] = _observed(r[ob])

    data["quarantine_summary"] = _table(
        ["run_date", "feed", "rule", "n_rows", "n_files", "n_file_level"], q_summary, q_available)
    data["quarantine_sample"] = _table(q_cols or QUARANTINE_COLUMNS, q_sample, q_available)
    data["meta"] = {
        "latest_date": latest.isoformat() if latest else None,
        "since": since.isoformat() if since else None,
        "warehouse": warehouse.name,
        "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "max_days": max_days,
    }
    return data
