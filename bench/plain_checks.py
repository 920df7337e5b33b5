"""The rules of the GX suites written as plain DuckDB SQL (count of failing rows per rule), to
time against GX on the same tables in the same run. Generated from expectations/*.json, so the
two cover exactly the same rules (no rule is declared here: this is a benchmark baseline only).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb

EXPECTATIONS = Path(__file__).resolve().parents[1] / "expectations"


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _lit(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _s10_invalid(c: str) -> str:
    digits = " + ".join(f"CAST(substr({c}, {3 + i}, 1) AS INTEGER) * {w}"
                        for i, w in enumerate((8, 6, 4, 2, 3, 5, 9, 7)))
    code = f"(({digits} + CAST(substr({c}, 11, 1) AS INTEGER)) % 11) * 10 + CAST(substr({c}, 11, 1) AS INTEGER)"
    return (f"{c} IS NOT NULL AND NOT CASE WHEN regexp_full_match({c}, '[A-Z]{{2}}[0-9]{{9}}[A-Z]{{2}}') "
            f"THEN {code} IN (1,2,3,4,5,6,7,8,9,10,55) ELSE false END")


def failing_condition(etype: str, kw: dict) -> str | None:
    """WHERE condition selecting the rows GX would count as unexpected (None: not a row rule)."""
    c = _q(kw["column"]) if "column" in kw else None
    if etype == "expect_column_values_to_not_be_null":
        return f"{c} IS NULL"
    if etype == "expect_column_values_to_be_null":
        return f"{c} IS NOT NULL"
    if etype == "expect_column_values_to_be_in_set":
        return f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(_lit(v) for v in kw['value_set'])})"
    if etype == "expect_column_values_to_be_between":
        parts = []
        if kw.get("min_value") is not None:
            parts.append(f"{c} < {_lit(kw['min_value'])}")
        if kw.get("max_value") is not None:
            parts.append(f"{c} > {_lit(kw['max_value'])}")
        return f"{c} IS NOT NULL AND ({' OR '.join(parts)})"
    if etype == "expect_column_values_to_match_regex":
        return f"{c} IS NOT NULL AND NOT regexp_matches({c}, {_lit(kw['regex'])})"
    if etype == "expect_column_values_to_be_valid_s10":
        return _s10_invalid(c)
    if etype in ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal"):
        a, b = _q(kw["column_A"]), _q(kw["column_B"])
        op = "=" if etype.endswith("equal") else (">=" if kw.get("or_equal") else ">")
        return f"{a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({a} {op} {b})"
    return None


def rule_queries(table: str, suite: str) -> list[tuple[str, str]]:
    spec = json.loads((EXPECTATIONS / f"{suite}.json").read_text(encoding="utf-8"))
    out = []
    for e in spec["expectations"]:
        etype, kw, rule = e["type"], e.get("kwargs", {}), e.get("meta", {}).get("rule", e["type"])
        if etype == "expect_compound_columns_to_be_unique":
            cols = ", ".join(_q(c) for c in kw["column_list"])
            sql = (f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} "
                   f"GROUP BY {cols} HAVING count(*) > 1)")
        else:
            cond = failing_condition(etype, kw)
            if cond is None:
                raise ValueError(f"{suite}: no plain-SQL form for {etype}")
            sql = f"SELECT count(*) FROM {table} WHERE {cond}"
        out.append((rule, sql))
    return out


def run(con: duckdb.DuckDBPyConnection, checks: list[tuple[str, str]]) -> dict:
    """Run every rule of each (table, suite) as one count query; returns seconds and counts."""
    t0 = time.perf_counter()
    failing, rows = {}, {}
    for table, suite in checks:
        rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for rule, sql in rule_queries(table, suite):
            n = con.execute(sql).fetchone()[0]
            key = f"{suite}.{rule}"
            failing[key] = failing.get(key, 0) + int(n)
    return {"seconds": round(time.perf_counter() - t0, 3), "rows": rows, "failing": failing,
            "rules": sum(len(rule_queries(t, s)) for t, s in checks)}
