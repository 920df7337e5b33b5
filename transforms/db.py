"""DuckDB connections to the pipeline's private state and the SQL files that shape it."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import duckdb

from transforms.config import DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS, Paths

SQL_DIR = Path(__file__).resolve().parent / "sql"


@lru_cache(maxsize=None)
def sql_text(rel: str) -> str:
    return (SQL_DIR / rel).read_text(encoding="utf-8")


# Paths and values reach SQL as bind parameters (DuckDB binds them in SET, ATTACH, COPY ... TO and
# table functions too). The helpers below are the project's only SQL quoting: literals for the
# two statements that take no parameter (COMMENT ON ... IS, and CREATE VIEW: the published
# items.* views name their files), identifiers for names.
def quote_literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def quote_list(texts) -> str:
    """A DuckDB list literal of quoted strings: `['a', 'b''s']`."""
    return "[" + ", ".join(quote_literal(t) for t in texts) + "]"


def quote_ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def settings(con: duckdb.DuckDBPyConnection) -> None:
    # UTC session: every naive TIMESTAMP in state is UTC unless its column says local.
    con.execute("SET memory_limit = ?", [DUCKDB_MEMORY_LIMIT])
    con.execute("SET threads = ?", [DUCKDB_THREADS])
    con.execute("SET TimeZone = 'UTC'")


def connect_state(paths: Paths) -> duckdb.DuckDBPyConnection:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.state_db))
    settings(con)
    con.execute("SET temp_directory = ?", [str(paths.state_dir / "tmp")])
    # Scratch tables of one step are TEMP tables (memory, spilling to temp_directory), never
    # written to the state file: only what the next step needs is persisted.
    con.execute(sql_text("schema/state.sql"))
    return con


def run_sql(con: duckdb.DuckDBPyConnection, rel: str, **variables) -> None:
    """Run a .sql file; its parameters are DuckDB variables read with getvariable('name')."""
    for name, value in variables.items():
        con.execute(f"SET VARIABLE {name} = ?", [value])
    con.execute(sql_text(rel))


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """A table or a view of that name."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?",
        [schema, table]).fetchone()[0])
