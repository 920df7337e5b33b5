"""The published tables' catalogue (sql/mart/schema.yml): types, refresh rules, documentation."""
from __future__ import annotations

from functools import lru_cache

import yaml

from transforms.db import SQL_DIR, quote_ident, quote_literal


@lru_cache(maxsize=1)
def mart_tables() -> dict:
    """{table: {"description", "refresh", "columns": {name: (type, description)}}}, in build order."""
    raw = yaml.safe_load((SQL_DIR / "mart" / "schema.yml").read_text(encoding="utf-8"))["tables"]
    return {
        name: {"description": spec["description"], "refresh": spec["refresh"],
               "columns": {c: tuple(v) for c, v in spec["columns"].items()}}
        for name, spec in raw.items()
    }


def create_statements(schema: str = "mart") -> list[str]:
    """CREATE TABLE IF NOT EXISTS + COMMENT statements for every mart table in `schema`."""
    return [stmt for table in mart_tables() for stmt in table_statements(table, schema)]


def table_statements(table: str, schema: str = "mart") -> list[str]:
    """CREATE TABLE IF NOT EXISTS + COMMENT statements of one mart table."""
    spec = mart_tables()[table]
    cols = ", ".join(f"{quote_ident(c)} {t}" for c, (t, _) in spec["columns"].items())
    return [f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({cols})", *comment_statements(table, spec, schema)]


def comment_statements(table: str, spec: dict, schema: str = "mart") -> list[str]:
    out = [f"COMMENT ON TABLE {schema}.{table} IS {quote_literal(spec['description'])}"]
    for col, (_, text) in spec["columns"].items():
        out.append(f"COMMENT ON COLUMN {schema}.{table}.{quote_ident(col)} IS {quote_literal(text)}")
    return out
