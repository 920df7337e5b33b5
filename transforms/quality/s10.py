"""Custom expectation ``expect_column_values_to_be_valid_s10`` (UPU S10 item identifier).

Format: two letters, eight-digit serial, one check digit, two letters. Check digit: serial
digits weighted 8 6 4 2 3 5 9 7, C = 11 - (sum mod 11), C = 10 -> 0, C = 11 -> 5.
The SQLAlchemy implementation is plain SQL (substr/cast arithmetic), evaluated inside DuckDB.
Importing this module imports great_expectations: import it lazily.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import ClassVar, Tuple

import sqlalchemy as sa

from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10_SHAPE = "^[A-Z]{2}[0-9]{9}[A-Z]{2}$"
_S10_RE = re.compile(S10_SHAPE)


def s10_check_digit(serial: str) -> int:
    """Check digit of an 8-digit serial."""
    c = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS)) % 11
    return {10: 0, 11: 5}.get(c, c)


def is_valid_s10(value: object) -> bool:
    """Python reference implementation (used by the pandas metric and the tests)."""
    return (
        isinstance(value, str)
        and _S10_RE.match(value) is not None
        and s10_check_digit(value[2:10]) == int(value[10])
    )


def s10_sql_condition(column: sa.ColumnElement) -> sa.ColumnElement:
    """Boolean SQL expression: ``column`` is a valid S10 identifier (NULL -> NULL)."""

    def digit(pos: int) -> sa.ColumnElement:
        return sa.cast(sa.func.substr(column, pos, 1), sa.Integer)

    terms = [digit(3 + i) * w for i, w in enumerate(S10_WEIGHTS)]
    weighted = functools.reduce(operator.add, terms)
    remainder = sa.func.mod(weighted, 11)
    # C = 11 - r; C = 11 (r = 0) -> 5; C = 10 (r = 1) -> 0
    check = sa.case({0: 5, 1: 0}, value=remainder, else_=11 - remainder)
    # the CASE guard keeps the CASTs away from values that do not have the S10 shape
    return sa.case(
        (sa.func.regexp_full_match(column, "[A-Z]{2}[0-9]{9}[A-Z]{2}"), digit(11) == check),
        else_=sa.false(),
    )


class ColumnValuesValidS10(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_s10"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return column.map(is_valid_s10)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, _dialect, **kwargs):
        return s10_sql_condition(column)


class ExpectColumnValuesToBeValidS10(ColumnMapExpectation):
    """Expect column entries to be UPU S10 identifiers with a correct check digit."""

    map_metric = "column_values.valid_s10"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)
    library_metadata: ClassVar[dict] = {
        "maturity": "experimental",
        "tags": ["clearcap", "upu", "s10"],
        "contributors": ["clearcap"],
    }
