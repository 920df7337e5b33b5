"""Parsing one report cell: numbers, dates, and the labels that map to canonical codes.

Cells come from CSV (always text) or xlsx (text, int, float, date, datetime, bool, None).
Parsers return the typed value or None (not reported), and raise CellError when the cell
holds something that is not a value of its kind.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

# 'Not reported' markers; '－' (full-width) folds to '-' under NFKC.
NULL_MARKERS = {"", "-", "--", "—", "——", "–", "―"}
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_INT = re.compile(r"[+-]?\d+(\.0*)?")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATE_SEP = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 with Excel's leap-year bug folded in


class CellError(ValueError):
    """A cell that cannot be a value of its column's kind."""


def cell_text(value) -> str:
    """The cell as a person would read it (used for _raw, headers, labels)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fold(text: str) -> str:
    # Full-width digits, minus and spaces to ASCII; all whitespace dropped.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _number_text(text: str) -> str | None:
    s = _fold(text)
    if s in NULL_MARKERS:
        return None
    if "," in s:
        if not _THOUSANDS.fullmatch(s):
            raise CellError(f"{text!r} is not a number")
        s = s.replace(",", "")
    return s


def parse_count(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (date, datetime)):
        raise CellError(f"{cell_text(value)!r} is not an integer")
    if isinstance(value, (int, float)) and abs(value) >= 2**63:
        raise CellError(f"{value!r} is out of range")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"{value!r} is not an integer")
    s = _number_text(str(value))
    if s is None:
        return None
    if not _INT.fullmatch(s) or len(s.split(".")[0].lstrip("+-")) > 18:  # Int64 holds 18 digits safely
        raise CellError(f"{value!r} is not an integer")
    return int(s.split(".")[0])


def parse_amount(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (date, datetime)):
        raise CellError(f"{cell_text(value)!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    s = _number_text(str(value))
    if s is None:
        return None
    if not _FLOAT.fullmatch(s):
        raise CellError(f"{value!r} is not a number")
    return float(s)


def _make_date(y: str | int, m: str | int, d: str | int, shown) -> date:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise CellError(f"{shown!r} is not a calendar date") from None


def parse_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise CellError(f"{cell_text(value)!r} is not a date")
    if isinstance(value, (int, float)):
        # A numeric cell: 20261125 typed as a number, else an Excel serial day number.
        if float(value).is_integer() and 19000101 <= value <= 21001231:
            n = int(value)
            return _make_date(n // 10000, n // 100 % 100, n % 100, value)
        if 1 <= value < 2958466:
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError(f"{value!r} is not a date")
    # keep one inner space: "2026/11/25 00:00" is how spreadsheets export a date cell to CSV
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(value))).strip()
    if s in NULL_MARKERS:
        return None
    for pattern, text in ((_DATE_SEP, s), (_DATE_COMPACT, s), (_DATE_ZH, s.replace(" ", ""))):
        m = pattern.fullmatch(text)
        if m:
            return _make_date(*m.groups()[:3], value)
    raise CellError(f"{value!r} is not a date")


def parse_code(value) -> str | None:
    s = _fold(cell_text(value))
    return s.upper() or None


def parse_text(value) -> str | None:
    return cell_text(value) or None


def _label_key(value) -> str:
    return _fold(cell_text(value)).upper()


DIRECTIONS = {
    "进口": "inbound", "进境": "inbound", "INBOUND": "inbound", "IMPORT": "inbound",
    "出口": "outbound", "出境": "outbound", "OUTBOUND": "outbound", "EXPORT": "outbound",
    "转运": "transit", "过境": "transit", "TRANSIT": "transit",
}
MAIL_CLASSES = {"函件": "U", "包裹": "C", "特快专递": "E", "EMS": "E", "U": "U", "C": "C", "E": "E"}
REGIME_CODES = ("9610", "9710", "9810", "1210", "0110", "KJ-A", "KJ-B", "KJ-C")
REGIMES = {code.replace("-", ""): code for code in REGIME_CODES}
REGIMES.update({
    "快件A类": "KJ-A", "快件B类": "KJ-B", "快件C类": "KJ-C",
    "跨境电商零售": "9610", "跨境电子商务零售": "9610",
    "跨境电商B2B直接出口": "9710", "跨境电子商务B2B直接出口": "9710",
    "跨境电商出口海外仓": "9810", "跨境电子商务出口海外仓": "9810",
    "保税电商": "1210", "保税跨境电子商务": "1210",
    "一般贸易": "0110",
    # the official short names of the customs regime code table
    "电子商务": "9610", "跨境贸易电子商务": "9610",
    "跨境电商B2B出口": "9710", "跨境电子商务企业对企业直接出口": "9710",
    "跨境电商出口海外仓": "9810", "跨境电子商务出口海外仓": "9810",
    "保税跨境贸易电子商务": "1210", "保税电子商务": "1210",
    "快件A": "KJ-A", "快件B": "KJ-B", "快件C": "KJ-C",
    "KJA类": "KJ-A", "KJB类": "KJ-B", "KJC类": "KJ-C",
})
# "9610（电子商务）", "KJ-A 快件A类": a code leading a label
_LEADING_CODE = re.compile(r"(9610|9710|9810|1210|0110|KJ-?[ABC])(?![0-9A-Z])")


def _mapped(value, table: dict[str, str]) -> str | None:
    # Unknown labels are kept as given (trimmed): a value-set rule rejects them later, visibly.
    text = cell_text(value)
    if not text:
        return None
    return table.get(_label_key(value), text)


def parse_direction(value) -> str | None:
    return _mapped(value, DIRECTIONS)


def parse_mail_class(value) -> str | None:
    return _mapped(value, MAIL_CLASSES)


def parse_regime(value) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    key = _label_key(value).replace("-", "").replace("_", "")
    if key.isdigit() and len(key) < 4:
        key = key.zfill(4)  # a spreadsheet turned 0110 into the number 110
    if key in REGIMES:
        return REGIMES[key]
    m = _LEADING_CODE.match(_label_key(value))
    if m:
        return REGIMES[m.group(1).replace("-", "")]
    return text
