"""Report files as grids: (line or sheet row number, cells) for every physical row, CSV or xlsx."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from transforms.readers.results import failure

# A grid row: 1-based line (CSV) or sheet row (xlsx), and its cells (text for CSV, typed for xlsx).
GridRow = tuple[int, list]


class UnreadableFile(Exception):
    def __init__(self, rule: str, reason: str):
        self.error = failure(rule, reason)
        super().__init__(self.error[1])


def csv_grid(text: str, delimiter: str = ",") -> list[GridRow]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, line_end = [], 0
    try:
        for cells in reader:
            # line_num is the last physical line of the record; it starts right after the previous one.
            rows.append((line_end + 1, cells))
            line_end = reader.line_num
    except csv.Error as exc:
        raise UnreadableFile("not_readable", f"CSV syntax error near line {line_end + 1}: {exc}")
    return rows


def xlsx_grid(path: Path) -> list[GridRow]:
    """First worksheet, values as stored (formulas' cached results), trailing empty cells dropped."""
    import openpyxl

    try:
        # Not read_only: merged cells (a date or office merged over several rows) are only
        # visible in full mode. Report sheets are small.
        wb = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # zipfile, OSError, KeyError and assorted openpyxl types for damaged archives
        raise UnreadableFile("not_readable", f"not an xlsx workbook ({type(exc).__name__}: {exc})")
    try:
        if not wb.worksheets:
            raise UnreadableFile("not_readable", "workbook has no worksheet")
        sheet = wb.worksheets[0]
        merged = {}  # (row, col) -> value of the merged range's top-left cell
        for rng in sheet.merged_cells.ranges:
            value = sheet.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    merged[(r, c)] = value
        rows = []
        # min_row=1 makes openpyxl yield empty rows for gaps, so enumerate gives sheet row numbers.
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [merged.get((number, col), v) for col, v in enumerate(values, start=1)]
            while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
                cells.pop()
            rows.append((number, cells))
        return rows
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile("not_readable", f"damaged worksheet ({type(exc).__name__}: {exc})")
    finally:
        wb.close()
