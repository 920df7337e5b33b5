"""Analyst commands on the published warehouse: ad-hoc SQL and the morning briefing.

Both open the published file read-only and close it at once, so they never block a load.
"""
from __future__ import annotations

import csv
import json
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import duckdb


def open_published(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse} (run `clearcap run` first)")
    return duckdb.connect(str(warehouse), read_only=True)


def run_query(warehouse: Path, query: str, fmt: str = "table", out=sys.stdout) -> int:
    with closing(open_published(warehouse)) as con:
        try:
            cur = con.execute(query)
        except duckdb.Error as exc:
            print(f"clearcap sql: {exc}", file=sys.stderr)
            return 1
        names = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(names)
        w.writerows(rows)
    elif fmt == "json":
        json.dump([dict(zip(names, r)) for r in rows], out, ensure_ascii=False, default=str, indent=1)
        out.write("\n")
    else:
        out.write(format_table(names, rows) + "\n")
    return 0


def format_table(names: list[str], rows: list[tuple]) -> str:
    def cell(v):
        if v is None:
            return "NULL"
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    text = [[cell(v) for v in r] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in text]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths))
            for r in text]
    return "\n".join([line, sep, *body, f"({len(rows)} rows)"])


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


ALERT_COLUMNS = ["severity", "office_code", "direction", "kind", "value", "state", "first_fired",
                 "message_zh", "message_en"]
STATE_LABEL = {"new": "new 新", "escalated": "escalated 升级", "resolved": "resolved 解除"}


def alert_lines(con: duckdb.DuckDBPyConnection, day: date) -> list[str]:
    """The night's alerts: what changed since the previous published night first, one line each,
    then one line per kind for the conditions that continue."""
    from transforms import alert_digest

    have = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'mart' AND table_name = 'alerts'").fetchall()}
    cols = ", ".join(c if c in have else f"NULL AS {c}" for c in ALERT_COLUMNS)  # older warehouses
    cur = con.execute(f"SELECT {cols} FROM mart.alerts WHERE as_of_date = ?", [day])
    rows = [dict(zip(ALERT_COLUMNS, r)) for r in cur.fetchall()]
    if not rows:
        return ["none 无"]
    lead, cont = alert_digest.leading(rows), alert_digest.continuing(rows)
    counts = {s: sum(alert_digest.state_of(r) == s for r in rows) for s in ("new", "escalated", "resolved", "continuing")}
    out = [f"{counts['new']} new 新, {counts['escalated']} escalated 升级, {counts['resolved']} resolved 解除, "
           f"{counts['continuing']} continuing 持续"]
    for r in lead:
        state = alert_digest.state_of(r)
        tag = STATE_LABEL[state] + ("" if state == "resolved" else f", {r['severity']}")
        out.append(f"[{tag}] {r['message_zh']} | {r['message_en']}")
    if cont:
        out.append("Continuing, one line per kind 持续告警（按类型）:")
        out.extend("  " + k.line() for k in cont)
    out.append(f"all 全部: SELECT * FROM mart.alerts WHERE as_of_date = '{day}'")
    return out


def briefing(con: duckdb.DuckDBPyConnection, day: date | None) -> str:
    day = day or con.execute("SELECT max(report_date) FROM mart.national_daily").fetchone()[0]
    if day is None:
        return "No data published yet. 尚无已发布数据。"
    out = [f"clearcap morning briefing 晨报 — {day}", ""]
    out.append("National headline 全国概况")
    rows = con.execute("""
        SELECT direction, items_received, items_dispatched, utilization, offices_reporting,
               offices_expected, dwell_p50_h, share_within_24h
        FROM mart.national_daily WHERE report_date = ? ORDER BY direction""", [day]).fetchall()
    out.append(format_table(["direction 方向", "received 接收", "dispatched 发运", "utilization 利用率",
                             "reporting 已报", "expected 应报", "dwell p50 h 通关中位时长",
                             "within 24h 24小时内"], rows))
    out += ["", "Offices over 85% of capacity 超过 85% 产能的互换局"]
    rows = con.execute("""
        SELECT office_code, direction, load_factor, utilization FROM mart.office_daily
        WHERE report_date = ? AND (load_factor > 0.85 OR utilization > 0.85)
        ORDER BY greatest(coalesce(load_factor, 0), coalesce(utilization, 0)) DESC""", [day]).fetchall()
    out.append(format_table(["office 局", "direction 方向", "load factor 负荷率", "utilization 利用率"], rows))
    out += ["", "Breaching 85% within 180 days 180 天内将达 85% 产能"]
    rows = con.execute("""
        SELECT office_code, direction, breach_date, growth_monthly, headroom FROM mart.capacity_outlook
        WHERE as_of_date = ? AND breach_date <= ? + 180 ORDER BY breach_date""", [day, day]).fetchall()
    out.append(format_table(["site 站点", "direction 方向", "breach date 预计日期", "growth/month 月增长",
                             "headroom 余量"], rows))
    out += ["", "Slowest customs (p90 dwell) 通关最慢"]
    rows = con.execute("""
        SELECT office_code, direction, n_released, dwell_p50_h, dwell_p90_h, share_within_24h
        FROM mart.customs_dwell_daily WHERE release_date = ? AND n_released > 0
        ORDER BY dwell_p90_h DESC LIMIT 5""", [day]).fetchall()
    out.append(format_table(["office 局", "direction 方向", "released 放行", "p50 h", "p90 h",
                             "within 24h 24小时内"], rows))
    out += ["", "Missing reports 未报"]
    rows = con.execute("""
        SELECT DISTINCT office_code FROM mart.office_daily WHERE report_date = ? AND NOT reported
        UNION SELECT DISTINCT centre_code FROM mart.centre_daily WHERE report_date = ? AND NOT reported
        ORDER BY 1""", [day, day]).fetchall()
    out.append(", ".join(r[0] for r in rows) or "none 无")
    out += ["", "Alerts 告警 (against the previous published night 对比上一期)"]
    out.extend(alert_lines(con, day))
    return "\n".join(out)


def print_summary(warehouse: Path, day: date | None = None) -> int:
    with closing(open_published(warehouse)) as con:
        print(briefing(con, day))
    print(f"\nwarehouse 数据仓库: {warehouse}")
    return 0
