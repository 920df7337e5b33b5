"""Mutation campaign (issue 13): seeded damage to valid demo files, then proof that nothing is lost.

    python -m bench.mutation [--files 20000] [--seed 13] [--nights 2] [--out bench/out/mutation.json]

Valid demo files of every feed and form (feed A and B CSV in UTF-8, UTF-8 with BOM and GB18030,
xlsx; feed C JSON Lines and CSV, plain and gzip; the reference) get one seeded mutation each (KINDS).
The bulk goes through the readers directly, one file at a time in this process (`check_file`);
a few full nights (`clearcap run`) then load landing zones stuffed with mutated files and check
the published warehouse (`check_warehouse`). The suite runs the short form
(tests/test_mutation_campaign.py); this module's CLI is the long form (`make bench-mutation`).
"""
from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import json
import random
import re
import resource
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

# Every kind of damage the issue lists, in its words.
KINDS = ("byte_flip", "truncate", "encoding_swap", "delete_column", "duplicate_column", "reorder_columns",
         "garbage_lines", "binary_lines", "long_line", "empty_file", "header_only", "wide_5000",
         "corrupt_xlsx", "xlsx_as_csv", "nul_bytes", "mixed_line_endings", "third_language_header")
LONG_LINE_BYTES = 10 * 2**20
WIDE_COLUMNS = 5000
EVENT_LINES = 60  # events bases are cut to this many lines: the readers' cost is per file, not per line
# Header names in a third language (neither Chinese nor English): Russian, with a few French.
THIRD_LANGUAGE = ["дата", "код_офиса", "направление", "класс", "получено", "отправлено", "мешки", "вес_кг",
                  "предъявлено", "выпущено", "досмотрено", "задержано", "возвращено", "остаток",
                  "date_du_rapport", "code_bureau", "sens", "régime"]
# Text that garbage lines are made of: real Chinese words, ASCII punctuation, quotes and digits.
GARBAGE = list("合计总计进口出口包裹函件日期互换局代码abcXYZ0123456789,,,;;\t\"'{}[]:-_ ") + ["小计", "——", "N/A"]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LATIN1_MOJIBAKE = re.compile(r"[\u00c2-\u00ef][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6\u02dc]|ï¼")


@dataclass(frozen=True)
class Base:
    """One valid landing file: the unmutated form a campaign starts from."""
    feed: str          # reference | exchange_office | customs_centre | item_events
    form: str          # e.g. csv-utf-8, csv-gb18030, xlsx, jsonl.gz
    name: str          # file name (its suffix decides the reader path)
    data: bytes
    folder_date: date | None

    @property
    def gz(self) -> bool:
        return self.name.endswith(".gz")

    @property
    def xlsx(self) -> bool:
        return self.name.endswith(".xlsx")

    @property
    def encoding(self) -> str:
        return self.form.split("-", 1)[1] if self.form.startswith("csv-") else "utf-8"


@dataclass
class Case:
    base: Base
    kind: str
    seed: int
    name: str
    data: bytes

    @property
    def label(self) -> str:
        return f"{self.base.feed}/{self.base.form} {self.kind} seed={self.seed}"


@dataclass
class Outcome:
    case: str
    kind: str
    feed: str
    crash: str | None = None
    unaccounted: int = 0
    misdecoded: list[str] = field(default_factory=list)
    bad_quarantine: int = 0
    file_error: str | None = None
    rows_read: int = 0

    @property
    def ok(self) -> bool:
        return not (self.crash or self.unaccounted or self.misdecoded or self.bad_quarantine)


# ---------------------------------------------------------------- mis-decoded text


def misdecoded(text: str | None) -> bool:
    """Text that cannot be what the sender wrote: a replacement character, or Chinese UTF-8 bytes read
    as GB18030 ('鏃ユ湡' for 日期) or as Latin-1/cp1252 ('æ—¥æœŸ'). Genuine GB18030 Chinese re-encoded
    is almost never valid UTF-8 holding CJK, so the test does not flag real Chinese (tested)."""
    if not text or text.isascii():
        return False
    if "\ufffd" in text or LATIN1_MOJIBAKE.search(text):
        return True
    if any(unicodedata.category(ch) in ("Co", "Cs") for ch in text):
        return True  # GB18030 maps stray byte pairs to private-use characters
    if CJK.search(text):
        try:
            back = text.encode("gb18030").decode("utf-8", errors="replace")
        except UnicodeEncodeError:
            return False
        # the bytes read back as UTF-8 Chinese, give or take a character cut at either end
        return back != text and len(CJK.findall(back)) >= 2 and back.count("\ufffd") < len(CJK.findall(back))
    return False


def misdecoded_values(df: pl.DataFrame) -> list[str]:
    """The text values of a frame that are mis-decoded (only non-ASCII values are looked at)."""
    found = []
    for name, dtype in df.schema.items():
        if dtype != pl.Utf8:
            continue
        for v in df.get_column(name).filter(~df.get_column(name).str.contains(r"^[\x00-\x7f]*$")).unique():
            if misdecoded(v):
                found.append(f"{name}={v[:60]!r}")
    return found


# ---------------------------------------------------------------- bases from a demo landing zone


def _gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _encoding_of(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _readable(path: Path, feed: str) -> bool:
    """A report the reader takes whole (the demo's own quirks, e.g. an .xlsx that is not one, are no base)."""
    from transforms.readers import read_report

    res = read_report(path, feed, date.fromisoformat(path.parent.name))
    return res.file_error is None and res.quarantine.height == 0


def load_bases(landing: Path) -> list[Base]:
    """One file per feed and form (the first by name), from a `clearcap demo` landing zone."""
    landing = Path(landing)
    bases = [Base("reference", "csv-utf-8", "offices.csv", (landing / "reference/offices.csv").read_bytes(), None)]
    for feed in ("exchange_office", "customs_centre"):
        seen = set()
        for p in sorted((landing / feed).glob("*/*")):
            data = p.read_bytes()
            form = "xlsx" if p.suffix == ".xlsx" else f"csv-{_encoding_of(data)}"
            if form not in seen and p.suffix in (".csv", ".xlsx") and _readable(p, feed):
                seen.add(form)
                bases.append(Base(feed, form, p.name, data, date.fromisoformat(p.parent.name)))
    seen = set()
    for p in sorted((landing / "item_events").glob("*/*")):
        form = p.name.split(".", 1)[1]
        if form in seen or form not in ("jsonl", "jsonl.gz", "csv", "csv.gz"):
            continue
        seen.add(form)
        payload = p.read_bytes()
        try:
            payload = _gunzip(payload) if form.endswith(".gz") else payload
        except (OSError, EOFError):
            continue  # the demo's truncated gzip is a quirk, not a valid base
        cut = b"".join(payload.splitlines(keepends=True)[:EVENT_LINES])
        bases.append(Base("item_events", form, p.name, _gzip(cut) if form.endswith(".gz") else cut,
                          date.fromisoformat(p.parent.name)))
    return bases


# ---------------------------------------------------------------- mutations


def _payload(base: Base) -> bytes:
    return _gunzip(base.data) if base.gz else base.data


def _wrap(base: Base, payload: bytes) -> bytes:
    return _gzip(payload) if base.gz else payload


def _text(base: Base) -> str:
    return _payload(base).decode(base.encoding)


def _encode(base: Base, text: str) -> bytes:
    return _wrap(base, text.encode(base.encoding))


def _grid(base: Base) -> list[list]:
    """Rows of cells: CSV parsed, xlsx's first sheet as stored values."""
    if base.xlsx:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(base.data), data_only=True)
        rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        return rows
    return list(csv.reader(io.StringIO(_text(base), newline="")))


def _xlsx_bytes(rows: list[list]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    sheet = wb.active
    for row in rows:
        sheet.append(row)
    saved = io.BytesIO()
    wb.save(saved)
    # same seed, same bytes: openpyxl stamps the zip entries and docProps with the time of saving
    out = io.BytesIO()
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", src.read(item.filename)) \
                if item.filename == "docProps/core.xml" else src.read(item.filename)
            dst.writestr(zipfile.ZipInfo(item.filename, date_time=(2026, 1, 1, 0, 0, 0)), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _from_grid(base: Base, rows: list[list]) -> bytes:
    if base.xlsx:
        return _xlsx_bytes(rows)
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n" if "\r\n" in _text(base) else "\n").writerows(rows)
    return _encode(base, buf.getvalue())


def _header_index(base: Base, rows: list[list]) -> int:
    """Row of the header: the first with three known column names (JSON Lines: none, -1)."""
    from transforms.readers.columns import FEED_COLUMNS, header_key, header_names
    from transforms.readers.events import OPTIONAL, REQUIRED

    if base.feed == "item_events":
        names = {header_key(f) for f in REQUIRED + OPTIONAL}
    else:
        names = set(header_names(FEED_COLUMNS[base.feed]))
    for i, row in enumerate(rows):
        if len({header_key(str(c)) for c in row if c is not None} & names) >= 3:
            return i
    return -1


def _is_jsonl(base: Base) -> bool:
    return base.feed == "item_events" and base.form.startswith("jsonl")


def _json_lines(base: Base) -> list[dict]:
    return [json.loads(line) for line in _text(base).splitlines() if line.strip()]


def _dump_json_lines(base: Base, records: list) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return _encode(base, "\n".join(lines) + "\n")


def _columns_mutation(base: Base, kind: str, rng: random.Random) -> bytes:
    if _is_jsonl(base):
        records = _json_lines(base)
        keys = list(records[0])
        key = rng.choice(keys)
        out = []
        for r in records:
            if kind == "delete_column":
                r.pop(key, None)
                out.append(r)
            elif kind == "reorder_columns":
                items = list(r.items())
                rng.shuffle(items)
                out.append(dict(items))
            else:  # a key given twice, the second time with another record's value
                body = json.dumps(r, ensure_ascii=False)
                out.append(body[:-1] + f", {json.dumps(key)}: {json.dumps(rng.choice(records).get(key))}}}")
        return _dump_json_lines(base, out)
    rows = _grid(base)
    h = _header_index(base, rows)
    width = len(rows[h]) if h >= 0 else max(len(r) for r in rows)
    col = rng.randrange(width)
    order = list(range(width))
    rng.shuffle(order)
    out = []
    for r in rows:
        if len(r) < 2:  # title lines, blank lines: left as they are
            out.append(r)
            continue
        r = list(r) + [None if base.xlsx else ""] * (width - len(r))
        if kind == "delete_column":
            out.append(r[:col] + r[col + 1:])
        elif kind == "duplicate_column":
            out.append(r[:col + 1] + [r[col]] + r[col + 1:])
        else:
            out.append([r[i] for i in order] + r[width:])
    return _from_grid(base, out)


def _insert_lines(base: Base, rng: random.Random, lines: list[bytes]) -> bytes:
    payload = _payload(base).splitlines(keepends=True)
    for line in lines:
        payload.insert(rng.randrange(len(payload) + 1), line + b"\n")
    return _wrap(base, b"".join(payload))


def _grid_insert(base: Base, rng: random.Random, rows: list[list]) -> bytes:
    grid = _grid(base)
    for row in rows:
        grid.insert(rng.randrange(len(grid) + 1), row)
    return _xlsx_bytes(grid)


def _garbage(rng: random.Random) -> str:
    return "".join(rng.choice(GARBAGE) for _ in range(rng.randrange(1, 120)))


def _some_xlsx(base: Base) -> bytes:
    return base.data if base.xlsx else _xlsx_bytes(_grid(base) if not _is_jsonl(base) else
                                                   [list(r.values()) for r in _json_lines(base)])


def _corrupt_zip(data: bytes, rng: random.Random) -> bytes:
    how = rng.choice(("truncate", "flip", "bad_sheet", "no_sheet", "flip_directory"))
    if how == "truncate":
        return data[:rng.randrange(1, len(data))]
    if how in ("flip", "flip_directory"):
        buf = bytearray(data)
        lo = data.rfind(b"PK\x01\x02") if how == "flip_directory" else 0
        lo = max(lo, 0)
        for _ in range(rng.randrange(1, 16)):
            buf[rng.randrange(lo, len(buf))] ^= rng.randrange(1, 256)
        return bytes(buf)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename.startswith("xl/worksheets/"):
                if how == "no_sheet":
                    continue
                body = src.read(item)
                dst.writestr(item, body[:rng.randrange(len(body))] + _garbage(rng).encode())
            else:
                dst.writestr(item, src.read(item))
    return out.getvalue()


def mutate(base: Base, kind: str, rng: random.Random) -> bytes:
    """The bytes of `base` damaged by one mutation of `kind` (seeded by rng)."""
    if kind in ("byte_flip", "truncate", "nul_bytes"):
        # gzip files: damage the compressed bytes or the text inside, one or the other
        raw = base.data if (base.xlsx or (base.gz and rng.random() < 0.5)) else _payload(base)
        wrap = (lambda b: b) if raw is base.data else (lambda b: _wrap(base, b))
        if kind == "truncate":
            return wrap(raw[:rng.randrange(len(raw))])
        buf = bytearray(raw)
        for _ in range(rng.randrange(1, 9)):
            at = rng.randrange(len(buf))
            if kind == "byte_flip":
                buf[at] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
            else:
                buf[at:at] = b"\x00" * rng.randrange(1, 4)
        return wrap(bytes(buf))
    if kind == "empty_file":
        return _gzip(b"") if base.gz and rng.random() < 0.5 else b""
    if kind == "corrupt_xlsx":
        return _corrupt_zip(_some_xlsx(base), rng)
    if kind == "xlsx_as_csv":
        return _wrap(base, _some_xlsx(base))
    if kind in ("delete_column", "duplicate_column", "reorder_columns"):
        return _columns_mutation(base, kind, rng)
    if kind == "garbage_lines":
        if base.xlsx:
            return _grid_insert(base, rng, [[_garbage(rng) for _ in range(rng.randrange(1, 6))]
                                            for _ in range(rng.randrange(1, 6))])
        return _insert_lines(base, rng, [_garbage(rng).encode(base.encoding.replace("-sig", ""))
                                         for _ in range(rng.randrange(1, 6))])
    if kind == "binary_lines":
        if base.xlsx:  # control characters cannot be stored in a sheet: binary-looking text instead
            return _grid_insert(base, rng, [["".join(chr(rng.choice((rng.randrange(0x21, 0x7f), rng.randrange(0x100, 0x250),
                                                                     rng.randrange(0x2500, 0x2600))))
                                                 for _ in range(40))]])
        return _insert_lines(base, rng, [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
                                         for _ in range(rng.randrange(1, 4))])
    if kind == "long_line":
        if base.xlsx:  # a cell holds at most 32,767 characters: the longest cell a sheet can have
            return _grid_insert(base, rng, [["9" * 32767] * 3])
        filler = rng.choice((b"9", b"x", b"\xe5\x90\x88" if base.encoding.startswith("utf-8") else b"A,"))
        line = filler * (LONG_LINE_BYTES // len(filler))
        if _is_jsonl(base):
            line = b'{"item_id": "' + line + b'", "event_code": "EMC"}'
        return _insert_lines(base, rng, [line])
    if kind == "header_only":
        if _is_jsonl(base):
            return _encode(base, "\n".join(json.dumps(r) for r in _json_lines(base)[:0]) + "\n\n")
        rows = _grid(base)
        return _from_grid(base, rows[:_header_index(base, rows) + 1])
    if kind == "wide_5000":
        if _is_jsonl(base):
            extra = {f"x{i}": str(i) for i in range(WIDE_COLUMNS)}
            return _dump_json_lines(base, [{**r, **extra} for r in _json_lines(base)])
        rows = _grid(base)
        h = _header_index(base, rows)
        return _from_grid(base, [list(r) + ([f"col_{i}" for i in range(WIDE_COLUMNS)] if i == h else
                                            [str(rng.randrange(10)) for _ in range(WIDE_COLUMNS)])
                                 if len(r) > 1 else r for i, r in enumerate(rows)])
    if kind == "third_language_header":
        if _is_jsonl(base):
            records = _json_lines(base)
            keys = rng.sample(list(records[0]), rng.randrange(1, len(records[0]) + 1))
            renamed = {k: rng.choice(THIRD_LANGUAGE) for k in keys}
            return _dump_json_lines(base, [{renamed.get(k, k): v for k, v in r.items()} for r in records])
        rows = _grid(base)
        h = _header_index(base, rows)
        header = list(rows[h])
        for i in rng.sample(range(len(header)), rng.randrange(1, len(header) + 1)):
            header[i] = rng.choice(THIRD_LANGUAGE)
        rows[h] = header
        return _from_grid(base, rows)
    if kind == "mixed_line_endings":
        lines = _payload(base).splitlines()
        return _wrap(base, b"".join(line + rng.choice((b"\n", b"\r\n", b"\r")) for line in lines))
    if kind == "encoding_swap":
        text = _text(base)
        lines = text.splitlines(keepends=True)
        cut = rng.randrange(1, max(len(lines), 2))
        head, tail = "".join(lines[:cut]), "".join(lines[cut:])
        if tail.isascii():  # nothing Chinese left to re-encode: switch to UTF-16 instead
            other = "utf-16-le"
        else:
            other = "gb18030" if base.encoding.startswith("utf-8") else "utf-8"
        return _wrap(base, head.encode(base.encoding) + tail.encode(other))
    raise ValueError(f"unknown mutation kind {kind!r}")


def applicable(base: Base, kind: str) -> bool:
    if kind == "corrupt_xlsx" or kind == "xlsx_as_csv":
        # corrupt_xlsx needs a feed that may be .xlsx; xlsx_as_csv a .csv name to hide behind
        return base.feed in ("exchange_office", "customs_centre") if kind == "corrupt_xlsx" else not base.xlsx
    if base.xlsx and kind in ("encoding_swap", "mixed_line_endings", "nul_bytes"):
        return False  # text-file damage: a sheet has no encoding or line endings
    return True


def case_name(base: Base, kind: str, seed: int) -> str:
    stem, dot, suffix = base.name.partition(".")
    if kind == "corrupt_xlsx":
        suffix = "xlsx"
    elif kind == "xlsx_as_csv" and base.xlsx:
        suffix = "csv"
    return f"{stem}__{kind}_{seed}.{suffix}"


def case_at(bases: list[Base], i: int, seed: int, kinds: tuple[str, ...] = KINDS) -> Case:
    """Case i of a campaign: the (base, kind) pairs that apply, in turn; its own seed `seed * 1_000_003 + i`."""
    pairs = [(b, k) for k in kinds for b in bases if applicable(b, k)]
    base, kind = pairs[i % len(pairs)]
    s = seed * 1_000_003 + i
    return Case(base, kind, s, case_name(base, kind, s), mutate(base, kind, random.Random(s)))


def cases(bases: list[Base], n: int, seed: int, kinds: tuple[str, ...] = KINDS):
    for i in range(n):
        yield case_at(bases, i, seed, kinds)


# ---------------------------------------------------------------- reader-level checks


def _quarantine_problems(q: pl.DataFrame) -> int:
    """Quarantine rows without a line number (>= 1) or without a rule."""
    if q.height == 0:
        return 0
    return q.filter(pl.col("_line").is_null() | (pl.col("_line") < 1) | pl.col("rule").is_null()
                    | (pl.col("rule") == "")).height


def check_file(path: Path, feed: str, folder_date: date | None, scratch: Path) -> dict:
    """Read one file with its reader; return what the campaign checks (raises nothing on a reader crash:
    the exception text comes back as `crash`)."""
    from transforms import readers

    out = {"crash": None, "unaccounted": 0, "misdecoded": [], "bad_quarantine": 0, "file_error": None,
           "rows_read": 0}
    try:
        if feed == "item_events":
            rows_p, q_p = scratch / "rows.parquet", scratch / "quarantine.parquet"
            res = readers.read_events(path, folder_date, rows_p, q_p)
            rows, q = pl.read_parquet(rows_p), pl.read_parquet(q_p)
            counted = (res.rows_ok, res.rows_quarantined)
            found = (rows.height, q.height)
            out["unaccounted"] = abs(res.rows_read - res.rows_ok - res.rows_quarantined) + (
                sum(abs(a - b) for a, b in zip(counted, found)))
        else:
            res = readers.read_reference(path) if feed == "reference" else readers.read_report(path, feed, folder_date)
            rows, q = res.rows, res.quarantine
            out["unaccounted"] = abs(res.rows_read - rows.height - q.height)
            out["misdecoded"] += misdecoded_values(res.totals)
    except Exception as exc:  # a crash is the finding: report it, keep campaigning
        out["crash"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        return out
    out["rows_read"] = res.rows_read
    if res.file_error:
        rule, detail = res.file_error
        out["file_error"] = rule
        if not rule or not detail or rows.height or q.height:
            out["bad_quarantine"] += 1
        if misdecoded(detail):
            out["misdecoded"].append(f"file_error={detail[:60]!r}")
    out["bad_quarantine"] += _quarantine_problems(q)
    # a line rejected for its encoding shows its undecodable bytes as U+FFFD: marked, not passed off as text
    out["misdecoded"] += misdecoded_values(rows) + misdecoded_values(q.filter(pl.col("rule") != "encoding"))
    return out


def run_readers(bases: list[Base], n: int, seed: int, work: Path, kinds: tuple[str, ...] = KINDS,
                keep: Path | None = None) -> list[Outcome]:
    """Mutate n files and check each with its reader, one process, one file on disk at a time.
    keep: also copy every case whose check failed there (to reproduce it)."""
    work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mutation-", dir=work))
    outcomes = []
    try:
        for case in cases(bases, n, seed, kinds):
            path = scratch / case.name
            path.write_bytes(case.data)
            got = check_file(path, case.base.feed, case.base.folder_date, scratch)
            outcome = Outcome(case.label, case.kind, case.base.feed, **got)
            outcomes.append(outcome)
            if keep is not None and not outcome.ok:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, keep / case.name)
            path.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------- full nights


def stuff_landing(landing: Path, bases: list[Base], n: int, seed: int, day: date,
                  kinds: tuple[str, ...] = KINDS) -> int:
    """Add n mutated files of the date-folder feeds to `landing` under `day`; returns how many."""
    dated = [b for b in bases if b.feed != "reference"]
    count = 0
    for case in cases(dated, n, seed, kinds):
        folder = landing / case.base.feed / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / case.name).write_bytes(case.data)
        count += 1
    return count


def mutated_reference(bases: list[Base], seed: int) -> Case:
    ref = [b for b in bases if b.feed == "reference"]
    kind = random.Random(seed).choice([k for k in KINDS if applicable(ref[0], k)])
    return next(cases(ref, 1, seed, (kind,)))


COUNT_COLUMN = re.compile(r"^(items_|declarations_|n_|offices_|rows_)|_close$|^pending|^backlog_close$")
# Fractions whose definition bounds them to [0, 1] (part over whole); load factors, utilisation and
# release rates are ratios of independent figures and may exceed 1.
BOUNDED_FRACTIONS = ("share_within_24h", "share")
DIRECTIONS = {"inbound", "outbound", "transit"}
REGIMES = {"9610", "9710", "9810", "1210", "0110", "KJ-A", "KJ-B", "KJ-C"}


# Day columns of the daily marts: none may lie after the night that was run.
DAY_COLUMNS = {"office_daily": "report_date", "customs_dwell_daily": "release_date", "centre_daily": "report_date",
               "national_daily": "report_date", "capacity_outlook": "as_of_date"}


def check_warehouse(warehouse: Path, until: date | None = None) -> dict:
    """Published-warehouse checks: ledger accounting per file, value domains (no day after `until`), no
    mis-decoded text, every quarantine entry names file, line (or the whole-file marker) and rule."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    problems: list[str] = []
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'mart'")
                  .fetchall()]
        cols = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                           "WHERE schema_name = 'mart'").fetchall()
        led = con.execute("SELECT path, rows_read, rows_loaded, rows_quarantined, rows_duplicate, status "
                          "FROM mart.load_ledger").fetchall()
        unaccounted = [(p, r, l, q, d) for p, r, l, q, d, _ in led if (r or 0) != (l or 0) + (q or 0) + (d or 0)]
        problems += [f"ledger: {p}: read {r} != loaded {l} + quarantined {q} + duplicate {d}"
                     for p, r, l, q, d in unaccounted[:20]]
        offices = {r[0] for r in con.execute("SELECT DISTINCT office_code FROM mart.offices").fetchall()}
        text_values = 0
        bad_text = []
        for table, column, dtype in cols:
            ident = f'mart."{table}"."{column}"'
            if dtype.startswith("VARCHAR"):
                exempt = " AND rule <> 'encoding'" if table == "quarantine" else ""  # as in check_file
                for (v,) in con.execute(f'SELECT DISTINCT "{column}" FROM mart."{table}" WHERE NOT '
                                        f'regexp_full_match("{column}", \'[\\x00-\\x7f]*\'){exempt}').fetchall():
                    text_values += 1
                    if misdecoded(v):
                        bad_text.append(f"{ident}={v[:60]!r}")
            if dtype in ("BIGINT", "INTEGER", "DOUBLE", "HUGEINT") and COUNT_COLUMN.search(column):
                n = con.execute(f'SELECT count(*) FROM mart."{table}" WHERE "{column}" < 0').fetchone()[0]
                if n:
                    problems.append(f"domain: {ident} < 0 in {n} rows")
            if column in BOUNDED_FRACTIONS:
                n = con.execute(f'SELECT count(*) FROM mart."{table}" WHERE NOT "{column}" BETWEEN 0 AND 1'
                                ).fetchone()[0]
                if n:
                    problems.append(f"domain: {ident} outside [0, 1] in {n} rows")
            if column == "direction":
                vals = {r[0] for r in con.execute(f'SELECT DISTINCT direction FROM mart."{table}"').fetchall()}
                if vals - DIRECTIONS - {None}:
                    problems.append(f"domain: {ident} has {sorted(vals - DIRECTIONS - {None})[:5]}")
            if column == "regime":
                vals = {r[0] for r in con.execute(f'SELECT DISTINCT regime FROM mart."{table}"').fetchall()}
                if vals - REGIMES - {None}:
                    problems.append(f"domain: {ident} has {sorted(vals - REGIMES - {None})[:5]}")
            if column in ("office_code", "centre_code", "origin_office") and table not in (
                    "offices", "quarantine", "alerts", "load_ledger", "quality_daily"):
                vals = {r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM mart."{table}"').fetchall()}
                if vals - offices - {None}:
                    problems.append(f"domain: {ident} has unknown codes {sorted(vals - offices - {None})[:5]}")
        for a, b in (("n_retained", "n_released"), ("items_arrived", "items_dispatched")):
            for table in {t for t, c, _ in cols if c == a} & {t for t, c, _ in cols if c == b}:
                n = con.execute(f'SELECT count(*) FROM mart."{table}" WHERE "{a}" > "{b}"').fetchone()[0]
                if n:
                    problems.append(f"domain: mart.{table}.{a} > {b} in {n} rows")
        for table, column in DAY_COLUMNS.items():
            if until is not None and table in tables:
                n = con.execute(f'SELECT count(*) FROM mart."{table}" WHERE "{column}" > ?', [until]).fetchone()[0]
                if n:
                    problems.append(f"domain: mart.{table}.{column} after {until} in {n} rows")
        problems += [f"misdecoded: {v}" for v in bad_text[:20]]
        # line NULL is the whole-file marker: allowed only for a file the ledger shows quarantined whole
        bad_q = con.execute("""SELECT count(*) FROM mart.quarantine q WHERE q.file IS NULL OR q.file = ''
            OR q.rule IS NULL OR q.rule = '' OR (q.line IS NULL AND NOT EXISTS (SELECT 1 FROM mart.load_ledger l
                WHERE l.file_id = q.file_id AND l.status = 'quarantined'))""").fetchone()[0]
        if bad_q:
            problems.append(f"quarantine: {bad_q} entries without file, line (or whole-file marker) or rule")
        return {"files": len(led), "unaccounted_files": len(unaccounted), "misdecoded_values": len(bad_text),
                "text_values_checked": text_values, "quarantine_entries": con.execute(
                    "SELECT count(*) FROM mart.quarantine").fetchone()[0],
                "statuses": dict(Counter(s for *_, s in led)), "problems": problems}
    finally:
        con.close()


def run_nights(root: Path, bases: list[Base], files_per_night: int, seed: int, nights: int = 2,
               demo_days: int = 2, start: date = date(2026, 3, 2)) -> list[dict]:
    """`clearcap run` night after night over a demo landing zone stuffed with mutated files, a mutated
    reference delivered on every night after the first. A night must publish, or fail (exit 1) leaving
    the previously published warehouse byte for byte in place."""
    from transforms.cli import main as clearcap
    from transforms.demo import generate

    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    generate(landing, start=start, days=demo_days, seed=seed, scale=0.02)
    results = []
    for night in range(nights):
        day = start + timedelta(days=min(night, demo_days - 1))
        stuffed = stuff_landing(landing, bases, files_per_night, seed * 100 + night, day)
        ref = None
        if night:
            ref = mutated_reference(bases, seed * 100 + night)
            (landing / "reference/offices.csv").write_bytes(ref.data)
        before = warehouse.read_bytes() if warehouse.exists() else None
        t0 = time.perf_counter()
        rc = clearcap(["run", "--landing", str(landing), "--warehouse", str(warehouse), "--date", day.isoformat()])
        res = {"night": day.isoformat(), "mutated_files": stuffed, "reference": ref.kind if ref else "valid",
               "exit": rc, "seconds": round(time.perf_counter() - t0, 1)}
        if rc != 0:
            res["previous_intact"] = before is not None and warehouse.read_bytes() == before
        if warehouse.exists():
            res.update(check_warehouse(warehouse, until=day))
        results.append(res)
    return results


# ---------------------------------------------------------------- figures and CLI


def figures(outcomes: list[Outcome], seconds: float) -> dict:
    return {
        "files": len(outcomes),
        "kinds": len({o.kind for o in outcomes}),
        "files_by_kind": dict(sorted(Counter(o.kind for o in outcomes).items())),
        "files_by_feed": dict(sorted(Counter(o.feed for o in outcomes).items())),
        "crashes": sum(1 for o in outcomes if o.crash),
        "unaccounted_rows": sum(o.unaccounted for o in outcomes),
        "misdecoded_rows": sum(len(o.misdecoded) for o in outcomes),
        "quarantine_without_line_or_rule": sum(o.bad_quarantine for o in outcomes),
        "file_errors_by_rule": dict(sorted(Counter(o.file_error for o in outcomes if o.file_error).items())),
        "rows_read": sum(o.rows_read for o in outcomes),
        "seconds": round(seconds, 1),
        "failures": [{"case": o.case, "crash": o.crash, "unaccounted": o.unaccounted,
                      "misdecoded": o.misdecoded[:3], "bad_quarantine": o.bad_quarantine}
                     for o in outcomes if not o.ok][:50],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=20000, help="mutated files read by the readers")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--nights", type=int, default=3, help="full nights over stuffed landing zones (0: none)")
    p.add_argument("--night-files", type=int, default=400, help="mutated files added on each night")
    p.add_argument("--work", type=Path, default=Path("bench/out/mutation"))
    p.add_argument("--out", type=Path, default=Path("bench/out/mutation.json"))
    a = p.parse_args(argv)
    from transforms.config import DUCKDB_MEMORY_LIMIT
    from transforms.demo import generate

    work = a.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    generate(work / "demo", start=date(2026, 3, 2), days=2, seed=7, scale=0.02)  # the suite's bases
    bases = load_bases(work / "demo")
    t0 = time.perf_counter()
    outcomes = run_readers(bases, a.files, a.seed, work, keep=work / "failed")
    res = {"command": "python -m bench.mutation " + " ".join(argv or []), "seed": a.seed,
           "bases": [f"{b.feed}/{b.form}" for b in bases], "readers": figures(outcomes, time.perf_counter() - t0),
           "peak_rss_mb": round(peak_rss_bytes() / 2**20, 1), "duckdb_memory_limit": DUCKDB_MEMORY_LIMIT}
    r = res["readers"]
    print(f"readers: {r['files']} mutated files, {r['kinds']} kinds, {r['crashes']} crashes, "
          f"{r['unaccounted_rows']} unaccounted rows, {r['misdecoded_rows']} mis-decoded values, "
          f"{r['quarantine_without_line_or_rule']} quarantine rows without line or rule, {r['seconds']} s; "
          f"peak RSS {res['peak_rss_mb']} MB (DuckDB limit {DUCKDB_MEMORY_LIMIT})", flush=True)
    if a.nights:
        t0 = time.perf_counter()
        res["nights"] = run_nights(work / "nights", bases, a.night_files, a.seed, nights=a.nights)
        for n in res["nights"]:
            print(f"night {n['night']}: {n['mutated_files']} mutated files + reference {n['reference']}: exit "
                  f"{n['exit']}, {n.get('files')} ledger files, {n.get('unaccounted_files')} unaccounted, "
                  f"{n.get('misdecoded_values')} mis-decoded of {n.get('text_values_checked')} text values, "
                  f"{len(n.get('problems', []))} problems, {n['seconds']} s", flush=True)
            for prob in n.get("problems", [])[:10]:
                print("   ", prob)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    for f in r["failures"][:20]:
        print("  FAILED", f)
    bad = r["crashes"] or r["unaccounted_rows"] or r["misdecoded_rows"] or r["quarantine_without_line_or_rule"]
    bad = bad or any(n["problems"] or (n["exit"] and not n.get("previous_intact")) for n in res.get("nights", []))
    print(f"written {a.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
