"""The published tables' catalogue: the dbt project's declarations of the marts
(transforms/dbt/models/mart/_mart.yml) and of the item-level views
(transforms/dbt/models/items/_items.yml), read for publish, docs and the dashboard's sample."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from transforms.db import quote_ident, quote_literal

MART_YML = Path(__file__).resolve().parent / "dbt" / "models" / "mart" / "_mart.yml"
ITEMS_YML = Path(__file__).resolve().parent / "dbt" / "models" / "items" / "_items.yml"
CORE_YML = Path(__file__).resolve().parent / "dbt" / "models" / "core" / "_core.yml"


@lru_cache(maxsize=1)
def mart_tables() -> dict:
    """{table: {"description", "columns": {name: (type, description)}}}, in declaration order."""
    models = yaml.safe_load(MART_YML.read_text(encoding="utf-8"))["models"]
    return {
        m["name"]: {"description": m["description"],
                    "columns": {c["name"]: (c["data_type"], c["description"]) for c in m["columns"]}}
        for m in models
    }


@lru_cache(maxsize=1)
def items_views() -> dict:
    """{view: {"description", "source", "columns": {name: (type, description)},
    "expressions": {name: SQL}}}, in declaration order."""
    views = yaml.safe_load(ITEMS_YML.read_text(encoding="utf-8"))["items"]
    return {
        v["name"]: {"description": v["description"], "source": v["source"],
                    "columns": {c["name"]: (c["data_type"], c["description"]) for c in v["columns"]},
                    "expressions": {c["name"]: c["expression"] for c in v["columns"] if "expression" in c}}
        for v in views
    }


@lru_cache(maxsize=None)
def core_columns(model: str) -> dict[str, str]:
    """{column: type} of a core model, as its contract declares them."""
    models = yaml.safe_load(CORE_YML.read_text(encoding="utf-8"))["models"]
    spec = next(m for m in models if m["name"] == model)
    return {c["name"]: c["data_type"] for c in spec["columns"]}


def create_statements(schema: str = "mart") -> list[str]:
    """CREATE TABLE IF NOT EXISTS + COMMENT statements for every mart table in `schema`."""
    return [stmt for table in mart_tables() for stmt in table_statements(table, schema)]


def table_statements(table: str, schema: str = "mart") -> list[str]:
    """CREATE TABLE IF NOT EXISTS + COMMENT statements of one mart table."""
    spec = mart_tables()[table]
    cols = ", ".join(f"{quote_ident(c)} {t}" for c, (t, _) in spec["columns"].items())
    return [f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({cols})", *comment_statements(table, spec, schema)]


def comment_statements(table: str, spec: dict, schema: str = "mart", kind: str = "TABLE") -> list[str]:
    out = [f"COMMENT ON {kind} {schema}.{table} IS {quote_literal(spec['description'])}"]
    for col, (_, text) in spec["columns"].items():
        out.append(f"COMMENT ON COLUMN {schema}.{table}.{quote_ident(col)} IS {quote_literal(text)}")
    return out
