"""Feed C, item events (.jsonl, .csv, optionally .gz): DuckDB end to end, no Python row loops.

Each file is scanned once as raw lines (so every line keeps its physical number and raw text),
parsed in SQL, and split into a rows Parquet and a quarantine Parquet.
"""
from __future__ import annotations

import csv
import gzip
import shutil
import tempfile
import zlib
from datetime import date
from pathlib import Path

import duckdb

from transforms.config import DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS
from transforms.files import atomic_path
from transforms.readers.columns import header_key
from transforms.readers.results import EventsRead, failure

# A field delimiter that never occurs in text, so read_csv hands back whole lines.
_LINE_DELIM = r"E'\x1f\x1e\x1d\x1c'"
REQUIRED = ("item_id", "event_code", "event_time", "office_code")
OPTIONAL = ("next_office_code", "mail_class", "origin_country", "destination_country", "weight_g",
            "retention_code", "reason_code", "action_code")
CODES = ("item_id", "event_code", "office_code", "next_office_code", "mail_class", "origin_country",
         "destination_country", "retention_code", "reason_code", "action_code")
# ISO 8601, extended or basic: date, T or space, HH:MM[:SS[.fff]], optional Z / ±HH:MM / ±HHMM / ±HH.
_TS = (r"^(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2})(\.\d{1,9})?)?"
       r"(Z|[+-]\d{2}(?::?\d{2})?)?$")
# One CSV field (quoted with "" escapes, or bare) after a leading comma; used on lines holding quotes.
_CSV_FIELD = r',("(?:[^"]|"")*"|[^,"]*)'

# Lines DuckDB could not even hand back as text: not UTF-8, or longer than its line limit.
_REJECT_RULE = "CASE WHEN error_type = 'INVALID ENCODING' THEN 'encoding' ELSE 'not_readable' END"
ROWS_SELECT = """item_id, event_code, event_time, event_local, event_offset_min::INTEGER AS event_offset_min,
    office_code, next_office_code, mail_class, origin_country, destination_country,
    weight_g::DOUBLE AS weight_g, retention_code, reason_code, action_code,
    _line::BIGINT AS _line, _raw::VARCHAR AS _raw"""


def _lines(strict: bool) -> str:
    """read_csv returning each accepted line whole (blank lines as NULL; undecodable ones go to rejects).

    Bind $path (the file) and $rejects (the rejects table's name) when running it."""
    return f"""read_csv($path,
        columns = {{'line': 'VARCHAR'}}, delim = {_LINE_DELIM}, quote = '', escape = '', header = false,
        auto_detect = false, compression = 'auto', ignore_errors = true, store_rejects = true,
        rejects_table = $rejects, rejects_scan = $rejects || '_scan'{'' if strict else ', strict_mode = false'})"""


def _scan(strict: bool) -> str:
    """Lines with their ordinal among accepted lines (row_number over a scan keeps file order)."""
    return f"(SELECT row_number() OVER () AS _ord, line FROM {_lines(strict)})"


def _line_shift_sql(rejects: str) -> str:
    # Rejected lines are missing from the ordinals: accepted ordinal o sits on physical line o + i,
    # i = how many rejects come before it (reject number i on line L precedes ordinals > L - i).
    return f"""(SELECT k, max(i) AS shift FROM (
        SELECT line - row_number() OVER (ORDER BY line) AS k, row_number() OVER (ORDER BY line) AS i
        FROM (SELECT DISTINCT line FROM {rejects})) GROUP BY k)"""


def _json_fields() -> tuple[str, str, dict[str, int]]:
    """(is-a-record expression, list-of-values expression, field -> list position) for JSON Lines."""
    names = REQUIRED + OPTIONAL
    paths = ", ".join(f"'$.\"{f}\"'" for f in names)
    # One JSON parse per line for all fields (->> per field would parse the line each time).
    values = f"CASE WHEN _is_record THEN json_extract_string(line, [{paths}]) END"
    return "coalesce(try(json_type(line)) = 'OBJECT', false)", values, {f: i for i, f in enumerate(names, 1)}


def _csv_fields(header: list[str]) -> tuple[str, str, dict[str, int]]:
    """Same for CSV: cells split on commas, or by a quote-aware pattern when the line holds quotes."""
    positions = {}
    for i, name in enumerate(header, start=1):
        positions.setdefault(header_key(name), i)
    cells = f"""CASE WHEN strpos(line, '"') = 0 THEN string_split(line, ',')
        ELSE list_transform(regexp_extract_all(',' || line, '{_CSV_FIELD}', 1),
             lambda c: CASE WHEN length(c) >= 2 AND c[1] = '"' AND c[-1] = '"'
                            THEN replace(c[2:-2], '""', '"') ELSE c END) END"""
    wanted = {f: positions[header_key(f)] for f in REQUIRED + OPTIONAL if header_key(f) in positions}
    return "true", cells, wanted


def _parse_sql(source: str, is_record: str, values: str, positions: dict[str, int], first_ord: int) -> str:
    # trim(x, chars) costs ~4x a plain scan per field: trim only values that start or end with one
    clean = ("nullif(CASE WHEN {0}[1] IN (' ', chr(9), chr(13)) OR {0}[-1] IN (' ', chr(9), chr(13)) "
             "THEN trim({0}, chr(32) || chr(9) || chr(13)) ELSE {0} END, '')")
    fields = ",\n".join(f"_values[{positions[f]}] AS f_{f}" if f in positions else f"NULL::VARCHAR AS f_{f}"
                         for f in REQUIRED + OPTIONAL)
    norm = ",\n".join(
        (f"upper({clean.format('f_' + f)}) AS {f}" if f in CODES else f"{clean.format('f_' + f)} AS {f}")
        for f in REQUIRED + OPTIONAL if f != "weight_g")
    return f"""
    WITH src AS (
        SELECT _ord, line FROM {source}
        WHERE _ord > {first_ord} AND line IS NOT NULL AND NOT regexp_full_match(line, '\\s*')
    ), rec AS (
        SELECT *, {is_record} AS _is_record FROM src
    ), v AS (
        SELECT *, {values} AS _values FROM rec
    ), f AS (
        SELECT _ord, line AS _raw, _is_record, {fields} FROM v
    ), n AS (
        SELECT _ord, _raw, _is_record, {norm},
               {clean.format('f_weight_g')} AS _weight_text,
               CASE WHEN regexp_full_match({clean.format('f_weight_g')}, '\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?')
                    THEN replace({clean.format('f_weight_g')}, ',', '')
                    ELSE {clean.format('f_weight_g')} END AS _weight_num,
               regexp_extract({clean.format('f_event_time')}, '{_TS}',
                              ['y', 'mo', 'd', 'h', 'mi', 's', 'frac', 'off']) AS _ts
        FROM f
    ), t AS (
        SELECT *,
            CASE WHEN try_cast(_ts.y AS INT) BETWEEN 2000 AND 2100 AND try_cast(_ts.h AS INT) <= 23
                      AND try_cast(_ts.mi AS INT) <= 59 AND coalesce(try_cast(nullif(_ts.s, '') AS INT), 0) <= 59
                 THEN try_cast(_ts.y || '-' || _ts.mo || '-' || _ts.d || ' ' || _ts.h || ':' || _ts.mi || ':'
                               || coalesce(nullif(_ts.s, ''), '00') || left(_ts.frac, 7) AS TIMESTAMP)
            END AS event_local,
            CASE WHEN _ts.off = '' THEN NULL WHEN _ts.off = 'Z' THEN 0
                 ELSE (CASE WHEN _ts.off[1] = '-' THEN -1 ELSE 1 END)
                      * (try_cast(_ts.off[2:3] AS INT) * 60
                         + CASE WHEN length(_ts.off) > 3 THEN try_cast(right(_ts.off, 2) AS INT) ELSE 0 END)
            END AS event_offset_min,
            _ts.off IN ('', 'Z') OR (try_cast(_ts.off[2:3] AS INT) <= 14
                AND (length(_ts.off) = 3 OR try_cast(right(_ts.off, 2) AS INT) <= 59)) AS _offset_ok,
            -- grams with thousands separators ("1,234") are still a weight
            CASE WHEN isfinite(try_cast(_weight_num AS DOUBLE)) THEN try_cast(_weight_num AS DOUBLE) END AS weight_g
        FROM n
    )
    -- only what the outputs need: the intermediate texts and the parsed struct are not kept
    SELECT _ord, _raw, _is_record, item_id, event_code, event_time, event_local, event_offset_min,
        office_code, next_office_code, mail_class, origin_country, destination_country, weight_g,
        retention_code, reason_code, action_code,
        CASE WHEN NOT _is_record THEN 'invalid_json'
             WHEN item_id IS NULL OR event_code IS NULL OR event_time IS NULL OR office_code IS NULL THEN 'missing_field'
             WHEN event_local IS NULL OR NOT _offset_ok THEN 'invalid_timestamp'
             WHEN _weight_text IS NOT NULL AND weight_g IS NULL THEN 'invalid_number'
        END AS rule,
        rule || ': ' || CASE rule
            WHEN 'invalid_json' THEN 'not a JSON object: ' || left(_raw, 80)
            WHEN 'missing_field' THEN concat_ws(', ', CASE WHEN item_id IS NULL THEN 'item_id' END,
                      CASE WHEN event_code IS NULL THEN 'event_code' END,
                      CASE WHEN event_time IS NULL THEN 'event_time' END,
                      CASE WHEN office_code IS NULL THEN 'office_code' END) || ' empty or missing'
            WHEN 'invalid_timestamp' THEN 'event_time=' || event_time
            WHEN 'invalid_number' THEN 'weight_g=' || _weight_text
        END AS detail
    FROM t"""


def _csv_header(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, list[str], int] | None:
    """(ordinal of the header line, its cells, rejects before it), reading only the first lines."""
    for strict in (True, False):
        con.execute("DROP TABLE IF EXISTS head_rejects; DROP TABLE IF EXISTS head_rejects_scan")
        try:
            # No window here, so LIMIT stops the scan early; insertion order gives the ordinals.
            head = con.execute(f"SELECT line FROM {_lines(strict)} LIMIT 1000",
                               {"path": str(path), "rejects": "head_rejects"}).fetchall()
            break
        except duckdb.InvalidInputException:
            if not strict:
                raise
    for ord_, (line,) in enumerate(head, start=1):
        if line is not None and line.strip():
            before = con.execute("SELECT count(*) FROM (SELECT line - row_number() OVER (ORDER BY line) AS k "
                                 "FROM (SELECT DISTINCT line FROM head_rejects)) WHERE k < ?", [ord_]).fetchone()[0]
            return ord_, next(csv.reader([line.lstrip("\ufeff")])), before
    return None


def _write_empty(con: duckdb.DuckDBPyConnection, out_rows: Path, out_quarantine: Path) -> None:
    con.execute("""COPY (SELECT NULL::VARCHAR AS item_id, NULL::VARCHAR AS event_code, NULL::VARCHAR AS event_time,
        NULL::TIMESTAMP AS event_local, NULL::INTEGER AS event_offset_min, NULL::VARCHAR AS office_code,
        NULL::VARCHAR AS next_office_code, NULL::VARCHAR AS mail_class, NULL::VARCHAR AS origin_country,
        NULL::VARCHAR AS destination_country, NULL::DOUBLE AS weight_g, NULL::VARCHAR AS retention_code,
        NULL::VARCHAR AS reason_code, NULL::VARCHAR AS action_code, NULL::BIGINT AS _line, NULL::VARCHAR AS _raw
        LIMIT 0) TO $out (FORMAT parquet)""", {"out": str(out_rows)})
    con.execute("""COPY (SELECT NULL::BIGINT AS _line, NULL::VARCHAR AS _raw, NULL::VARCHAR AS rule,
        NULL::VARCHAR AS detail LIMIT 0) TO $out (FORMAT parquet)""", {"out": str(out_quarantine)})


def _gzip_damage(path: Path) -> str | None:
    """Why a .gz file's stream is damaged, or None when it decompresses to its end with a good CRC.

    DuckDB (2.0.1) spins forever on some damaged deflate streams instead of failing (found by the
    mutation campaign, bench/mutation.py), so the stream is checked first: one pass through zlib
    in 1 MiB blocks, nothing kept.
    """
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        return f"{type(exc).__name__}: {exc}"
    return None


def events_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "jsonl"


def read_events(path: Path, folder_date: date | None, out_rows: Path, out_quarantine: Path) -> EventsRead:
    """Parse one item-events file into out_rows / out_quarantine Parquet (written atomically).

    Only parse-level rules apply here (invalid_json, missing_field, invalid_timestamp,
    invalid_number, and encoding for lines that are not UTF-8); folder_date is checked by GX.
    On a file error both outputs are written empty, with their schemas.
    """
    path, out_rows, out_quarantine = Path(path), Path(out_rows), Path(out_quarantine)
    fmt = events_format(path)
    tmp_dir = tempfile.mkdtemp(prefix="clearcap-events-")
    tmp_rows, tmp_quarantine = Path(tmp_dir) / "rows.parquet", Path(tmp_dir) / "quarantine.parquet"
    con = duckdb.connect()
    try:
        # the project's limits, not DuckDB's defaults (80% of RAM, every core): ingest tasks
        # run beside the scheduler and each other
        con.execute("SET memory_limit = ?", [DUCKDB_MEMORY_LIMIT])
        con.execute("SET threads = ?", [DUCKDB_THREADS])
        con.execute("SET enable_progress_bar = false")
        con.execute("SET temp_directory = ?", [str(Path(tmp_dir) / "spill")])
        result = _read_into(con, path, fmt, tmp_rows, tmp_quarantine)
        if result.file_error or not tmp_rows.exists():
            _write_empty(con, tmp_rows, tmp_quarantine)
        con.close()
        out_rows.parent.mkdir(parents=True, exist_ok=True)
        out_quarantine.parent.mkdir(parents=True, exist_ok=True)
        # Same filesystem is not guaranteed for the temp dir: move, then atomically rename.
        for src, dst in ((tmp_rows, out_rows), (tmp_quarantine, out_quarantine)):
            with atomic_path(dst) as staged:
                shutil.move(src, staged)
        return result
    finally:
        con.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _read_into(con, path: Path, fmt: str, tmp_rows: Path, tmp_quarantine: Path) -> EventsRead:
    def failed(rule: str, reason: str) -> EventsRead:
        return EventsRead(rows_read=0, rows_ok=0, rows_quarantined=0, file_error=failure(rule, reason), format=fmt)

    if path.name.lower().endswith(".gz"):
        damage = _gzip_damage(path)
        if damage:
            return failed("not_readable", f"damaged gzip stream ({damage})")
    first_ord = 0
    if fmt == "csv":
        try:
            found = _csv_header(con, path)
        except duckdb.Error as exc:
            return failed("not_readable", str(exc).splitlines()[0])
        if found is None:
            return EventsRead(rows_read=0, rows_ok=0, rows_quarantined=0, file_error=None, format=fmt)  # empty file
        first_ord, header, rejected_before = found
        if rejected_before:
            return failed("not_readable", "lines before the CSV header are not UTF-8 text")
        missing = [f for f in REQUIRED if header_key(f) not in {header_key(h) for h in header}]
        if missing:
            return failed("no_header", f"CSV header lacks {', '.join(missing)} (header: {','.join(header)[:200]})")
        is_record, values, positions = _csv_fields(header)
    else:
        is_record, values, positions = _json_fields()

    last_error = None
    for strict in (True, False):  # non-strict copes with mixed line endings, at the cost of exact numbers
        try:
            for table in ("parsed", "rejects", "rejects_scan"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(f"CREATE TEMP TABLE parsed AS {_parse_sql(_scan(strict), is_record, values, positions, first_ord)}",
                        {"path": str(path), "rejects": "rejects"})
            break
        except duckdb.Error as exc:
            last_error = exc
    else:
        return failed("not_readable", str(last_error).splitlines()[0])

    n_rejects = con.execute("SELECT count(DISTINCT line) FROM rejects").fetchone()[0]
    if n_rejects:
        con.execute(f"CREATE TEMP TABLE shifts AS {_line_shift_sql('rejects')}")
        line_expr, join = "p._ord + coalesce(s.shift, 0)", "p ASOF LEFT JOIN shifts s ON p._ord > s.k"
        order = "ORDER BY _line"  # the join does not keep file order; without it the scan order is kept
    else:
        line_expr, join, order = "p._ord", "p", ""
    by_rule_records = con.execute(
        "SELECT coalesce(rule, ''), count(*), count(*) FILTER (_is_record) FROM parsed GROUP BY ALL").fetchall()
    counts = {rule: n for rule, n, _ in by_rule_records}
    records = sum(r for _, _, r in by_rule_records)
    rows_read = sum(counts.values()) + n_rejects
    if fmt == "jsonl" and rows_read and not records:
        return failed("not_readable", f"none of {rows_read} lines is a JSON object")

    con.execute(f"""COPY (SELECT {ROWS_SELECT} FROM (SELECT p.*, {line_expr} AS _line FROM parsed {join})
        WHERE rule IS NULL {order}) TO $out (FORMAT parquet)""", {"out": str(tmp_rows)})
    con.execute(f"""COPY (
        SELECT {line_expr}::BIGINT AS _line, _raw, rule, detail FROM parsed {join} WHERE rule IS NOT NULL
        UNION ALL
        SELECT line::BIGINT, any_value(trim(csv_line, chr(10) || chr(13))),
               {_REJECT_RULE.replace("error_type", "any_value(error_type)")} AS rule,
               rule || ': ' || CASE rule WHEN 'encoding' THEN 'line is not valid UTF-8'
                                         ELSE any_value(error_message) END
        FROM rejects GROUP BY line
        ORDER BY 1) TO $out (FORMAT parquet)""", {"out": str(tmp_quarantine)})
    by_rule = {rule: n for rule, n in counts.items() if rule}
    for rule, n in con.execute(f"SELECT {_REJECT_RULE} AS r, count(*) FROM (SELECT line, any_value(error_type) "
                               "AS error_type FROM rejects GROUP BY line) GROUP BY r").fetchall():
        by_rule[rule] = by_rule.get(rule, 0) + n
    quarantined = sum(by_rule.values())
    return EventsRead(rows_read=rows_read, rows_ok=rows_read - quarantined, rows_quarantined=quarantined,
                      file_error=None, format=fmt, quarantined_by_rule=by_rule)
