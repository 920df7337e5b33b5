"""Write feeds A (exchange_office) and B (customs_centre): one file per site per day, in varied
house styles, with the file-level and row-level quirks of feeds.md injected at small rates."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from .quirks import QuirkLog, mtime_for, pick, write_bytes
from .report_render import DATE_FORMATS, HEADERS, OPTIONAL_COLUMNS, Style, render
from .report_tables import HOT

CODE_COLUMN = {"exchange_office": "office_code", "customs_centre": "centre_code"}
CORRECTED = {"exchange_office": ("items_received", "backlog_close"),
             "customs_centre": ("declarations_lodged", "pending_close")}
UNKNOWN_OFFICE = "CNXYZA"
HOT_SITES = {code for code, _ in HOT}
# Singletons of feed A (one office-day each); feed B only gets the rate-based quirks.
SINGLETONS = {
    "exchange_office": ("missing_office_day", "total_mismatch", "negative_count",
                        "date_outside_folder", "unknown_office", "not_a_spreadsheet"),
    "customs_centre": (),
}
RATES = {"xlsx": 0.06, "gb18030": 0.07, "utf8_bom": 0.07, "title_line": 0.2, "blank_lines": 0.08,
         "total_row": 0.15, "thousands_separator": 0.1, "null_markers": 0.05, "english_header": 0.2,
         "mixed_header": 0.05, "column_order": 0.3, "extra_column": 0.08}
REDELIVERY_RATE, LATE_RATE = 0.02, 0.01
NON_ISO_FORMATS = DATE_FORMATS[1:]


def _file_stem(feed: str, code: str, day: date) -> str:
    ymd, habit = day.strftime("%Y%m%d"), sum(map(ord, code)) % 3  # each site keeps its own naming habit
    if feed == "customs_centre":
        return f"监管日报_{code}_{ymd}" if habit == 1 else f"{code}_{ymd}"
    return (f"{code}_{ymd}", f"{code}-日报-{day.isoformat()}", f"daily_report_{code}_{ymd}")[habit]


def _offset_h(tz: str) -> int:
    return 6 if tz == "Asia/Urumqi" else 8


def write_report_feed(feed: str, table: pl.DataFrame, ref: pl.DataFrame, landing: Path, start: date,
                      days: int, rng: np.random.Generator, log: QuirkLog, quirks: bool = True) -> int:
    code_col = CODE_COLUMN[feed]
    sites = ref.unique("office_code", keep="first", maintain_order=True)
    name_zh = dict(zip(sites["office_code"], sites["name_zh"]))
    name_en = dict(zip(sites["office_code"], sites["name_en"]))
    tz = dict(zip(sites["office_code"], sites["tz"]))
    groups = table.partition_by(["t", code_col], as_dict=True, maintain_order=True)
    keys = sorted(groups, key=lambda k: (k[0], k[1]))
    n = len(keys)

    order = rng.permutation(n).tolist()
    special = {}
    for kind in SINGLETONS[feed]:
        # the missing report falls on the last day, at an office not running hot: the demo's
        # last morning has a report to chase, as real mornings do, without hiding a standing alert
        pool = [i for i in order if keys[i][0] == days - 1 and keys[i][1] not in HOT_SITES] \
            if kind == "missing_office_day" else order
        special[pool[0]] = kind
        order.remove(pool[0])
    redelivered = {order[i] for i in pick(rng, len(order), REDELIVERY_RATE)}
    # late files only where the lateness still lies in the past of the period's end
    late_pool = [i for i in order if i not in redelivered and keys[i][0] <= days - 3] or \
                [i for i in order if i not in redelivered]
    late = {late_pool[i] for i in pick(rng, len(late_pool), LATE_RATE)}
    plain = [i for i in order if i not in special]
    by_rate = {kind: {plain[i] for i in pick(rng, len(plain), r)} for kind, r in RATES.items()}
    # every date format of the spec appears at least once
    date_fmt = rng.choice(len(DATE_FORMATS), n, p=[0.55, 0.2, 0.15, 0.1])
    date_fmt[plain[: len(DATE_FORMATS)]] = np.arange(len(DATE_FORMATS))
    if not quirks:  # clean feed: canonical UTF-8 CSV, ISO dates, no bad rows, one delivery each
        special, redelivered, late = {}, set(), set()
        by_rate = {kind: set() for kind in RATES}
        date_fmt[:] = 0

    written = 0
    for idx, key in enumerate(keys):
        t, code = key
        day = start + timedelta(days=t)
        folder = landing / feed / day.isoformat()
        kind = special.get(idx)
        if kind == "missing_office_day":
            log.add(kind, folder, f"{code} does not report {day}", office_code=code, day=day.isoformat())
            continue
        rows = groups[key].drop("t").with_columns(pl.lit(day).alias("report_date")).to_dicts()
        quirks = {k for k, s in by_rate.items() if idx in s}
        style = _draw_style(feed, rng, quirks, int(date_fmt[idx]), code, name_zh, name_en)
        null_cells: set[tuple[int, str]] = set()
        if "null_markers" in quirks:
            optional = [c for c in HEADERS[feed] if c in OPTIONAL_COLUMNS]
            null_cells = {(0, optional[rng.integers(len(optional))]), (1, optional[rng.integers(len(optional))])}
        row_detail = _row_quirk(kind, rows, code_col, day, rng)
        if kind == "total_mismatch":
            style.fmt, style.total, style.encoding = "csv", "wrong", "utf-8"

        stem = _file_stem(feed, code, day)
        path = folder / f"{stem}.{style.fmt}"
        off = _offset_h(tz.get(code, ""))
        mtime = mtime_for(day + timedelta(days=1), 1.0 + rng.uniform(0, 0.6), off)
        if idx in late:
            lag = int(min(rng.integers(3, 7), max(2, days - t)))
            mtime = mtime_for(day + timedelta(days=lag), 10 + rng.uniform(0, 4), off)
            log.add("late_file", path, f"arrived {lag} days after its day", lag_days=lag)
        write_bytes(path, render(feed, rows, style, null_cells), mtime)
        written += 1
        _log_style(log, path, style, quirks, null_cells)
        if kind and row_detail:
            log.add(kind, path, row_detail[0], row=row_detail[1])
        if kind == "total_mismatch":
            log.add(kind, path, "total row differs from the sum of the data rows: quarantine the whole file")
        if kind == "not_a_spreadsheet":
            bad = folder / f"{stem}_export.xlsx"
            html = f"<html><body><table><tr><td>{name_zh[code]}</td></tr></table></body></html>\n"
            write_bytes(bad, html.encode("utf-8"), mtime - 3600)
            written += 1
            log.add(kind, bad, "HTML saved with an .xlsx name; the real report is beside it")
        if idx in redelivered:
            written += _redeliver(feed, rows, code, day, folder, stem, off, rng, log, path, name_zh, name_en)
    return written


def _draw_style(feed, rng, quirks, fmt_idx, code, name_zh, name_en) -> Style:
    s = Style(date_format=DATE_FORMATS[fmt_idx])
    canon = list(HEADERS[feed])
    if "xlsx" in quirks:
        s.fmt, s.date_cells = "xlsx", bool(rng.random() < 0.5)
    if "english_header" in quirks:
        s.header, s.labels = "en", ("en" if rng.random() < 0.5 else "code")
    elif "mixed_header" in quirks:
        s.header, s.labels = "mixed", "zh"
        s.mixed_pick = tuple(bool(b) for b in rng.random(len(canon)) < 0.5)
    if "column_order" in quirks:
        s.order = [canon[i] for i in rng.permutation(len(canon))]
        if s.header == "mixed":
            s.mixed_pick = tuple(bool(b) for b in rng.random(len(canon)) < 0.5)
    if s.fmt == "csv":
        if "gb18030" in quirks:
            s.encoding, s.header, s.labels = "gb18030", "zh", "zh"  # GBK exports come from Chinese systems
        elif "utf8_bom" in quirks:
            s.encoding = "utf-8-sig"
        s.thousands = "thousands_separator" in quirks
    if "title_line" in quirks:
        s.title = f"{name_zh[code]}业务日报" if s.header != "en" else f"{name_en[code]} daily report"
    s.blank_lines = "blank_lines" in quirks
    if "total_row" in quirks:
        s.total = "ok"
        s.total_label = "Total" if s.header == "en" else ("合计", "总计")[int(rng.integers(2))]
    s.extra_column = "extra_column" in quirks
    return s


def _log_style(log: QuirkLog, path: Path, s: Style, quirks: set[str], null_cells) -> None:
    if s.fmt == "xlsx":
        log.add("xlsx", path, "first worksheet holds the report")
        if s.date_cells:
            log.add("xlsx_date_cells", path, "report_date as spreadsheet date cells")
    if s.encoding == "gb18030":
        log.add("gb18030", path, "GB18030-encoded CSV")
    if s.encoding == "utf-8-sig":
        log.add("utf8_bom", path, "UTF-8 with byte-order mark")
    if s.title:
        log.add("title_line", path, s.title)
    if s.blank_lines:
        log.add("blank_lines", path, "blank lines around the table")
    if s.total == "ok":
        log.add("total_row", path, f"correct total row labelled {s.total_label}")
    if s.thousands:
        log.add("thousands_separator", path, "numbers like 12,345 with spaces")
    if null_cells:
        log.add("null_markers", path, "'-' and empty cells in optional columns",
                cells=sorted(f"{r + 1}:{c}" for r, c in null_cells))
    if not (s.fmt == "xlsx" and s.date_cells) and s.date_format != DATE_FORMATS[0]:
        log.add("date_format", path, s.date_format)
    if s.header in ("en", "mixed"):
        log.add(f"{'english' if s.header == 'en' else 'mixed'}_header", path, f"labels: {s.labels}")
    if s.order:
        log.add("column_order", path, ",".join(s.order))
    if s.extra_column:
        log.add("extra_column", path, "unknown column 备注/remarks")


def _row_quirk(kind, rows, code_col, day, rng) -> tuple[str, int] | None:
    """Break one data row the way feeds.md describes; returns (detail, 1-based data row)."""
    if kind not in ("negative_count", "date_outside_folder", "unknown_office"):
        return None
    i = int(rng.integers(len(rows)))
    if kind == "negative_count":
        rows[i]["items_inspected"] = -rows[i]["items_inspected"] - 1
        return "items_inspected negative", i + 1
    if kind == "date_outside_folder":
        rows[i]["report_date"] = day - timedelta(days=1)
        return f"row dated {day - timedelta(days=1)} in folder {day}", i + 1
    rows[i][code_col] = UNKNOWN_OFFICE
    return f"office code {UNKNOWN_OFFICE} not in offices.csv", i + 1


def _redeliver(feed, rows, code, day, folder, stem, off, rng, log, original, name_zh, name_en) -> int:
    """Same office-day again, corrected numbers, another name and a later modification time."""
    fixed = [dict(r) for r in rows]
    i = int(rng.integers(len(fixed)))
    col, carry = CORRECTED[feed]
    delta = int(rng.integers(5, 200))
    fixed[i][col] += delta
    fixed[i][carry] += delta
    style = Style(date_format=DATE_FORMATS[int(rng.integers(len(DATE_FORMATS)))])
    path = folder / f"{stem}_更正.csv" if rng.random() < 0.5 else folder / f"{stem}_v2.csv"
    lag_h = 9 + rng.uniform(0, 8) + (24 if rng.random() < 0.3 else 0)
    write_bytes(path, render(feed, fixed, style, set()), mtime_for(day + timedelta(days=1), lag_h, off))
    log.add("redelivery", path, f"replaces {original.name}: {col} +{delta} on row {i + 1}",
            replaces=original.relative_to(log.landing).as_posix())
    if style.date_format != DATE_FORMATS[0]:
        log.add("date_format", path, style.date_format)
    return 1
