"""Render one office-day report (feeds A and B) as CSV or XLSX bytes, in a given house style.

A style is the set of habits of the sender: header language, column order, encoding, title and
blank lines, total row, date and number formats, NULL markers. Rows are few (a dozen per file),
so plain Python per cell is fine here.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date

import openpyxl

HEADERS = {
    "exchange_office": {
        "report_date": "日期", "office_code": "互换局代码", "direction": "进出口", "mail_class": "邮件种类",
        "items_received": "接收件数", "items_dispatched": "发运件数", "receptacles": "总包数",
        "weight_kg": "重量(千克)", "items_presented": "交验件数", "items_released": "放行件数",
        "items_inspected": "查验件数", "items_held": "扣留件数", "items_returned": "退运件数",
        "backlog_close": "日终积压件数",
    },
    "customs_centre": {
        "report_date": "日期", "centre_code": "监管中心代码", "direction": "进出境", "regime": "监管方式",
        "declarations_lodged": "申报单数", "declarations_released": "放行单数",
        "declarations_inspected": "查验单数", "declarations_held": "扣留单数",
        "declarations_rejected": "退单数", "items_declared": "涉及件数",
        "declared_value_cny": "申报货值(元)", "release_hours_total": "放行时长合计(小时)",
        "pending_close": "日终待放行单数",
    },
}
TEXT_COLUMNS = {"report_date", "office_code", "centre_code", "direction", "mail_class", "regime"}
OPTIONAL_COLUMNS = {"receptacles", "weight_kg", "items_returned", "declared_value_cny", "declarations_held"}
ZH_LABELS = {
    "direction": {"inbound": "进口", "outbound": "出口", "transit": "转运"},
    "centre_direction": {"inbound": "进境", "outbound": "出境"},
    "mail_class": {"U": "函件", "C": "包裹", "E": "特快专递"},
    "regime": {"KJ-A": "快件A类", "KJ-B": "快件B类", "KJ-C": "快件C类"},
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日")
EXTRA_COLUMN = {"zh": "备注", "en": "remarks"}
FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass
class Style:
    fmt: str = "csv"                 # csv | xlsx
    header: str = "zh"               # zh | en | mixed
    labels: str = "zh"               # zh | en | code
    order: list[str] | None = None   # column order; None = canonical
    encoding: str = "utf-8"          # utf-8 | utf-8-sig | gb18030
    title: str | None = None
    blank_lines: bool = False
    total: str | None = None         # None | ok | wrong
    total_label: str = "合计"
    date_format: str = "%Y-%m-%d"
    date_cells: bool = False         # xlsx: real date cells
    thousands: bool = False
    nulls: bool = False              # '-' and empty cells for some optional values
    extra_column: bool = False
    mixed_pick: tuple[bool, ...] = ()  # per column: English header when header == mixed


def _label(feed: str, column: str, value: str, labels: str) -> str:
    if labels != "zh":
        return "EMS" if (column == "mail_class" and value == "E" and labels == "en") else value
    key = "centre_direction" if (feed == "customs_centre" and column == "direction") else column
    return ZH_LABELS.get(key, {}).get(value, value)


def _number_text(v, thousands: bool, pad: bool) -> str:
    if isinstance(v, float):
        text = (f"{v:,.2f}" if thousands else f"{v:.2f}").rstrip("0").rstrip(".")
    else:
        text = f"{v:,}" if thousands else str(v)
    return f" {text} " if pad else text


def render(feed: str, rows: list[dict], style: Style, null_cells: set[tuple[int, str]]) -> bytes:
    """rows: canonical values (report_date a date). null_cells: (row, column) written as '-' or ''."""
    canon = list(HEADERS[feed])
    order = list(style.order or canon)
    if style.total and order[0] not in TEXT_COLUMNS:
        # the total label sits in the first column, so a text column leads
        first_text = next(c for c in order if c in TEXT_COLUMNS)
        order.remove(first_text)
        order.insert(0, first_text)
    if style.header == "en":
        head = list(order)
    elif style.header == "zh":
        head = [HEADERS[feed][c] for c in order]
    else:
        head = [c if en else HEADERS[feed][c] for c, en in zip(order, style.mixed_pick)]
    extra_lang = "en" if style.header == "en" else "zh"
    if style.extra_column:
        head.append(EXTRA_COLUMN[extra_lang])

    body: list[list] = []
    for i, r in enumerate(rows):
        line = []
        for c in order:
            v = r[c]
            if (i, c) in null_cells:
                line.append(None if (i % 2) else "-")
            elif c == "report_date":
                line.append(v if (style.fmt == "xlsx" and style.date_cells) else v.strftime(style.date_format))
            elif c in TEXT_COLUMNS:
                line.append(_label(feed, c, v, style.labels))
            else:
                line.append(v)
        if style.extra_column:
            line.append(("正常" if extra_lang == "zh" else "ok") if i % 3 == 0 else None)
        body.append(line)

    total_line = None
    if style.total:
        total_line = []
        for j, c in enumerate(order):
            if c in TEXT_COLUMNS:
                total_line.append(None)
                continue
            vals = [r[c] for i, r in enumerate(rows) if (i, c) not in null_cells]
            s = sum(vals) if vals else None
            if isinstance(s, float):
                s = round(s, 2)
            if style.total == "wrong" and c == order_first_count(order):
                s = s + 1000
            total_line.append(s)
        total_line[0] = style.total_label  # the first non-empty cell of a total row is the label
        if style.extra_column:
            total_line.append(None)

    if style.fmt == "xlsx":
        return _xlsx(head, body, total_line, style)
    return _csv(head, body, total_line, style)


def order_first_count(order: list[str]) -> str:
    """The column whose total is falsified in the wrong-total file: the first count column."""
    return next(c for c in order if c not in TEXT_COLUMNS)


def _csv(head, body, total_line, style: Style) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if style.encoding == "gb18030" else "\n")
    width = len(head)
    if style.title:
        w.writerow([style.title])
        if style.blank_lines:
            buf.write("\n" if w.dialect.lineterminator == "\n" else "\r\n")
    w.writerow(head)
    for i, line in enumerate(body):
        w.writerow(["" if v is None else (v if isinstance(v, str) else _number_text(v, style.thousands, style.thousands and i % 2 == 0)) for v in line])
        if style.blank_lines and i == len(body) // 2:
            w.writerow([""] * width)  # a line of bare separators, as spreadsheets export it
    if total_line:
        w.writerow(["" if v is None else (v if isinstance(v, str) else _number_text(v, style.thousands, False)) for v in total_line])
    if style.blank_lines:
        buf.write(w.dialect.lineterminator)
    return buf.getvalue().encode(style.encoding)


def _xlsx(head, body, total_line, style: Style) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "日报"
    if style.title:
        ws.append([style.title])
        if style.blank_lines:
            ws.append([])
    ws.append(head)
    for line in body:
        ws.append(line)
    if style.date_cells:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
    if total_line:
        ws.append(total_line)
    buf = io.BytesIO()
    wb.save(buf)
    return _stable_zip(buf.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """openpyxl stamps the clock into the zip entries and docProps: pin both for same-bytes output."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2020-01-01T00:00:00Z", content)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()
