"""Great Expectations on DuckDB: an execution engine and a fluent datasource type ``duckdb``.

Imported lazily (it imports great_expectations, ~9 s): never import this module at DAG parse time.

Why (GX issues #10738, #11579; verified against great-expectations 1.24.1, duckdb-engine 0.17,
duckdb 2.0.1, SQLAlchemy 2.1):

* ``SqlAlchemyExecutionEngine.execute_query`` runs the query inside ``with engine.connect()``
  and returns the cursor result after the block; closing the connection returns it to the pool,
  whose reset (a rollback) runs on the same DuckDB connection and discards the pending result,
  so every metric comes back empty. GX already keeps one persisted connection for SQLite/MSSQL
  (``_PERSISTED_CONNECTION_DIALECTS``); :class:`DuckDBExecutionEngine` does the same for DuckDB.
* GX only sets ``dialect_module`` for dialects it knows; duckdb-engine's dialect derives from the
  PostgreSQL one, so we use ``sqlalchemy.dialects.postgresql``: regex expectations then render
  ``col ~ 'pattern'``, and DuckDB's ``~`` is a partial (search) match exactly like GX's pandas
  ``str.contains`` and PostgreSQL's ``~``.
* Literals must be rendered without doubled backslashes (``_backslash_escapes = False``), or the
  ``unexpected_index_query`` GX returns for ``^\\d+$`` matches a literal backslash and selects
  every row.

An already open ``duckdb.DuckDBPyConnection`` is used through :func:`register_connection`: the
SQLAlchemy engine's ``creator`` hands out ``con.cursor()`` (a second connection to the SAME
database instance, sharing its catalog; closing it leaves ``con`` open). Note: a cursor does not
see changes that ``con`` has not committed yet.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from contextlib import contextmanager
from typing import Any, Generator, Literal, Type

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from great_expectations.datasource.fluent.sql_datasource import SQLDatasource
from great_expectations.execution_engine.sqlalchemy_execution_engine import (
    SqlAlchemyExecutionEngine,
)

HANDLE_PARAM = "clearcap_handle"

_HANDLES: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
_HANDLES_STRONG: dict[str, duckdb.DuckDBPyConnection] = {}
_LOCK = threading.Lock()


def register_connection(con: duckdb.DuckDBPyConnection) -> str:
    """Register an open connection; returns a connection string for the ``duckdb`` datasource."""
    token = uuid.uuid4().hex
    with _LOCK:
        _HANDLES_STRONG[token] = con
    return f"duckdb:///:memory:?{HANDLE_PARAM}={token}"


def unregister_connection(connection_string: str) -> None:
    token = make_url(connection_string).query.get(HANDLE_PARAM)
    with _LOCK:
        _HANDLES_STRONG.pop(token, None)


def create_duckdb_engine(connection_string: str, **kwargs: Any) -> sa.engine.Engine:
    """SQLAlchemy engine for a duckdb URL; with ``?clearcap_handle=`` it wraps our open connection."""
    url = make_url(connection_string)
    token = url.query.get(HANDLE_PARAM)
    if token is None:
        engine = sa.create_engine(url, **kwargs)
    else:
        with _LOCK:
            con = _HANDLES_STRONG.get(token)
        if con is None:
            raise LookupError(f"no registered DuckDB connection for handle {token!r}")
        from duckdb_engine import ConnectionWrapper

        # no url.database: duckdb-engine picks a QueuePool (one cursor per checkout, never shared)
        engine = sa.create_engine(
            "duckdb://", creator=lambda: ConnectionWrapper(con.cursor()), **kwargs
        )
    # render string literals as DuckDB reads them (no '\\' doubling), see module docstring
    engine.dialect._backslash_escapes = False
    return engine


class _DuckDBInspector:
    """Delegates to SQLAlchemy's inspector, but reflects columns from DuckDB's own catalog.

    duckdb-engine 0.17's PostgreSQL-derived ``get_columns`` queries ``pg_catalog.pg_collation``,
    which DuckDB 2.0 does not have; GX then falls back to a probe query that drops the schema.
    """

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine
        self._inner = sa.inspect(engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_columns(self, table_name: str, schema: str | None = None, **kw: Any) -> list[dict]:
        sql = sa.text(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_catalog = current_database() "
            "AND table_schema = coalesce(:schema, current_schema()) AND table_name = :table "
            "ORDER BY ordinal_position"
        )
        with self._engine.connect() as conn:
            rows = conn.execute(sql, {"schema": schema, "table": str(table_name)}).fetchall()
        if not rows:
            raise sa.exc.NoSuchTableError(f"{schema}.{table_name}" if schema else str(table_name))
        names = self._engine.dialect.ischema_names
        out = []
        for name, data_type, nullable in rows:
            base = data_type.split("(")[0].strip().lower()
            type_cls = names.get(base, sa.types.NullType)
            out.append(
                {"name": name, "type": type_cls(), "nullable": nullable == "YES", "default": None}
            )
        return out

    def get_pk_constraint(self, table_name: str, schema: str | None = None, **kw: Any) -> dict:
        return {"constrained_columns": [], "name": None}


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """SqlAlchemyExecutionEngine that keeps one DuckDB connection for its whole life."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import sqlalchemy.dialects.postgresql as pg_module

        self.engine.dialect._backslash_escapes = False
        self.dialect_module = pg_module

    def _setup_engine(
        self,
        kwargs: Any,
        connection_string: str | None = None,
        credentials: dict | None = None,
        url: str | None = None,
    ) -> None:
        target = connection_string or url
        if target is None or not str(target).startswith("duckdb"):
            return super()._setup_engine(
                kwargs=kwargs, connection_string=connection_string, credentials=credentials, url=url
            )
        self.engine = create_duckdb_engine(str(target), **dict(kwargs))

    def get_inspector(self) -> Any:  # type: ignore[override]
        if self._inspector is None:
            self._inspector = _DuckDBInspector(self.engine)  # type: ignore[assignment]
        return self._inspector

    @contextmanager
    def get_connection(self) -> Generator[sa.Connection, None, None]:  # type: ignore[override]
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        yield self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
        self.engine.dispose()


class DuckDBDatasource(SQLDatasource):
    """Fluent datasource ``type: duckdb`` running GX metrics as SQL inside DuckDB."""

    type: Literal["duckdb"] = "duckdb"  # type: ignore[assignment]
    connection_string: str

    @property
    def execution_engine_type(self) -> Type[SqlAlchemyExecutionEngine]:
        return DuckDBExecutionEngine

    def _create_engine(self) -> sa.engine.Engine:
        return create_duckdb_engine(str(self.connection_string), **dict(self.kwargs or {}))
