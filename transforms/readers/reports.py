"""Feeds A and B (and the small reference file): one report file -> typed rows, rejects, totals.

Report files are a few dozen rows, so they are handled row by row in Python.
"""
from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import polars as pl

from transforms.readers import values as V
from transforms.readers.columns import (AMOUNT, CODE, COUNT, DATE, DIRECTION, FEED_COLUMNS, MAIL_CLASS,
                                        REGIME, TEXT, Column, header_key, header_names, row_schema)
from transforms.readers.decoding import decode_report
from transforms.readers.grids import GridRow, UnreadableFile, csv_grid, xlsx_grid
from transforms.readers.results import QUARANTINE_SCHEMA, TOTALS_SCHEMA, ReportRead, failed_report, failure

MIN_HEADER_MATCHES = 3
TOTAL_LABELS = {"合计", "总计", "total"}
# Subtotal rows (per direction, class or regime) are neither data nor the grand total: skipped.
SUBTOTAL_LABELS = {"小计", "subtotal", "sub-total"}
# Parse-level rule raised by a bad cell of each kind; other kinds cannot fail.
_PARSERS = {
    DATE: (V.parse_date, "invalid_date"),
    COUNT: (V.parse_count, "invalid_number"),
    AMOUNT: (V.parse_amount, "invalid_number"),
    CODE: (V.parse_code, None),
    TEXT: (V.parse_text, None),
    DIRECTION: (V.parse_direction, None),
    MAIL_CLASS: (V.parse_mail_class, None),
    REGIME: (V.parse_regime, None),
}


def _raw(cells: list) -> str:
    return ",".join(c if isinstance(c, str) else V.cell_text(c) for c in cells)


def _is_blank(cells: list) -> bool:
    return all(not V.cell_text(c) for c in cells)


def _label(cell) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", V.cell_text(cell))).rstrip(":").lower()


def _is_total(cells: list) -> bool:
    first = next((c for c in cells if V.cell_text(c)), None)
    return _label(first) in TOTAL_LABELS


def _is_subtotal(cells: list, label_cells: list[int]) -> bool:
    # The first cell, or a label column: a subtotal often keeps the date and office and says 小计
    # where the class would be. Free-text extra columns (a remark) never make a row a subtotal.
    first = next((i for i, c in enumerate(cells) if V.cell_text(c)), None)
    return any(i is not None and i < len(cells) and _label(cells[i]) in SUBTOTAL_LABELS
               for i in [first, *label_cells])


def _find_header(grid: list[GridRow], names: dict[str, Column]) -> int | None:
    for i, (_line, cells) in enumerate(grid):
        keys = {header_key(V.cell_text(c)) for c in cells}
        if len(keys & names.keys()) >= MIN_HEADER_MATCHES:
            return i
    return None


def _map_header(cells: list, names: dict[str, Column]) -> tuple[dict[str, int], dict[int, str]]:
    """Canonical column -> cell index, and index -> name of each unknown (extra) column."""
    known, extra = {}, {}
    for i, cell in enumerate(cells):
        col = names.get(header_key(V.cell_text(cell)))
        if col is not None and col.name not in known:
            known[col.name] = i
        else:  # unknown, or a repeated known column: kept aside rather than overwriting
            extra[i] = V.cell_text(cell) or f"_col{i + 1}"
    return known, extra


def _load_grids(path: Path) -> tuple[list[list[GridRow]], str | None]:
    """Candidate grids (CSV: one per plausible delimiter) and the encoding used."""
    if path.suffix.lower() == ".xlsx":
        return [xlsx_grid(path)], None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile("not_readable", str(exc))
    decoded = decode_report(data)
    if decoded is None:
        raise UnreadableFile("encoding", "not valid UTF-8 (with or without BOM) nor GB18030 text")
    text, encoding = decoded
    return [csv_grid(text, d) for d in (",", "\t", ";")], encoding


def read_table(path: Path, columns: tuple[Column, ...], allow_totals: bool = True) -> ReportRead:
    """Shared by reports and reference: header detection, typed rows, rejects and totals."""
    schema = row_schema(columns)
    encoding = None
    try:
        grids, encoding = _load_grids(path)
    except UnreadableFile as exc:
        return failed_report(schema, exc.error, encoding)
    names = header_names(columns)
    for grid in grids:
        at = _find_header(grid, names)
        if at is not None:
            break
    else:
        return failed_report(schema, failure("no_header", f"no row has {MIN_HEADER_MATCHES} or more known "
                                                          f"column names (decoded as {encoding or 'xlsx'})"), encoding)
    header_line, header_cells = grid[at]
    known, extra = _map_header(header_cells, names)
    missing = [c for c in columns if c.required and c.name not in known]
    if missing:
        shown = ", ".join(f"{c.name} ({c.zh})" if c.zh else c.name for c in missing)
        return failed_report(schema, failure("no_header", f"header on line {header_line} lacks required "
                                                          f"column {shown}"), encoding)

    out = {name: [] for name in schema}
    rejects = {name: [] for name in QUARANTINE_SCHEMA}
    numeric = [c for c in columns if c.numeric and c.name in known]
    sums: dict[str, float | None] = {c.name: None for c in numeric}
    total_rows: list[tuple[int, list]] = []
    subtotal_lines: list[int] = []
    label_cells = [known[c.name] for c in columns if not c.numeric and c.name in known]
    rows_read = 0
    for line, cells in grid[at + 1:]:
        if _is_blank(cells):
            continue
        if allow_totals and _is_total(cells):
            total_rows.append((line, cells))
            continue
        if allow_totals and _is_subtotal(cells, label_cells):
            subtotal_lines.append(line)
            continue
        rows_read += 1
        parsed, error = {}, None
        for col in columns:
            i = known.get(col.name)
            cell = cells[i] if i is not None and i < len(cells) else None
            parse, rule = _PARSERS[col.kind]
            try:
                parsed[col.name] = parse(cell)
                if parsed[col.name] is None and col.required and col.kind == DATE:
                    raise V.CellError("empty")  # a row without its day cannot be placed anywhere
            except V.CellError as exc:
                parsed[col.name] = None
                error = error or failure(rule, f"{col.name}: {exc}")
        for col in numeric:  # totals check the file as sent: every data row counts, even rejected ones
            if parsed[col.name] is not None:
                sums[col.name] = (sums[col.name] or 0) + parsed[col.name]
        if error:
            for key, value in zip(QUARANTINE_SCHEMA, (line, _raw(cells), *error)):
                rejects[key].append(value)
            continue
        extras = {name: V.cell_text(cells[i]) for i, name in extra.items()
                  if i < len(cells) and V.cell_text(cells[i])}
        extras.update({f"_col{i + 1}": V.cell_text(c) for i, c in enumerate(cells)
                       if i >= len(header_cells) and V.cell_text(c)})  # ragged row: cells beyond the header
        for col in columns:
            out[col.name].append(parsed[col.name])
        out["_line"].append(line)
        out["_raw"].append(_raw(cells))
        out["_extra"].append(json.dumps(extras, ensure_ascii=False) if extras else None)

    totals = {name: [] for name in TOTALS_SCHEMA}
    for line, cells in total_rows:
        for col in numeric:
            i = known[col.name]
            try:
                reported = V.parse_amount(cells[i] if i < len(cells) else None)
            except V.CellError:
                reported = None  # a label or note in the total row: nothing to compare
            total = sums[col.name]
            totals["column"].append(col.name)
            totals["reported_total"].append(reported)
            totals["rows_sum"].append(None if total is None else float(total))
            totals["_line"].append(line)
    return ReportRead(rows=pl.DataFrame(out, schema=schema),
                      quarantine=pl.DataFrame(rejects, schema=QUARANTINE_SCHEMA),
                      totals=pl.DataFrame(totals, schema=TOTALS_SCHEMA), rows_read=rows_read,
                      file_error=None, encoding=encoding, subtotal_lines=subtotal_lines)


def read_report(path: Path, feed: str, folder_date: date) -> ReportRead:
    """Read one exchange_office (A) or customs_centre (B) report, .csv or .xlsx.

    folder_date is not compared here: date_outside_folder is a Great Expectations row rule.
    """
    if feed not in ("exchange_office", "customs_centre"):
        raise ValueError(f"read_report: feed must be exchange_office or customs_centre, not {feed!r}")
    return read_table(Path(path), FEED_COLUMNS[feed])


def totals_mismatch(totals: pl.DataFrame, tolerance: float = 1e-6) -> list[str]:
    """Columns whose reported total differs from the sum of the data rows (for tests and diagnostics).

    A blank total cell compares with nothing; rows that are all NULL sum to 0 against a reported total.
    """
    bad = []
    for column, reported, rows_sum in totals.select("column", "reported_total", "rows_sum").iter_rows():
        if reported is not None and abs(reported - (rows_sum or 0.0)) > tolerance and column not in bad:
            bad.append(column)
    return bad
