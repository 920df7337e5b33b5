"""Column contracts of the report feeds: canonical names, dtypes, and the header names that map to them."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from transforms.readers.results import LINEAGE_SCHEMA

# Value kinds: how a cell is parsed (see values.py).
DATE, CODE, DIRECTION, MAIL_CLASS, REGIME, TEXT, COUNT, AMOUNT = (
    "date", "code", "direction", "mail_class", "regime", "text", "count", "amount")

DTYPES = {DATE: pl.Date, CODE: pl.Utf8, DIRECTION: pl.Utf8, MAIL_CLASS: pl.Utf8, REGIME: pl.Utf8,
          TEXT: pl.Utf8, COUNT: pl.Int64, AMOUNT: pl.Float64}


@dataclass(frozen=True)
class Column:
    name: str          # canonical (English) name
    kind: str
    zh: str | None     # Chinese header, when the feed has one
    required: bool = False

    @property
    def numeric(self) -> bool:
        return self.kind in (COUNT, AMOUNT)


EXCHANGE_OFFICE = (
    Column("report_date", DATE, "日期", True),
    Column("office_code", CODE, "互换局代码", True),
    Column("direction", DIRECTION, "进出口", True),
    Column("mail_class", MAIL_CLASS, "邮件种类", True),
    Column("items_received", COUNT, "接收件数"),
    Column("items_dispatched", COUNT, "发运件数"),
    Column("receptacles", COUNT, "总包数"),
    Column("weight_kg", AMOUNT, "重量(千克)"),
    Column("items_presented", COUNT, "交验件数"),
    Column("items_released", COUNT, "放行件数"),
    Column("items_inspected", COUNT, "查验件数"),
    Column("items_held", COUNT, "扣留件数"),
    Column("items_returned", COUNT, "退运件数"),
    Column("backlog_close", COUNT, "日终积压件数"),
)

CUSTOMS_CENTRE = (
    Column("report_date", DATE, "日期", True),
    Column("centre_code", CODE, "监管中心代码", True),
    Column("direction", DIRECTION, "进出境", True),
    Column("regime", REGIME, "监管方式", True),
    Column("declarations_lodged", COUNT, "申报单数"),
    Column("declarations_released", COUNT, "放行单数"),
    Column("declarations_inspected", COUNT, "查验单数"),
    Column("declarations_held", COUNT, "扣留单数"),
    Column("declarations_rejected", COUNT, "退单数"),
    Column("items_declared", COUNT, "涉及件数"),
    Column("declared_value_cny", AMOUNT, "申报货值(元)"),
    Column("release_hours_total", AMOUNT, "放行时长合计(小时)"),
    Column("pending_close", COUNT, "日终待放行单数"),
)

REFERENCE = (
    Column("office_code", CODE, None, True),
    Column("office_type", TEXT, None, True),
    Column("name_zh", TEXT, None),
    Column("name_en", TEXT, None),
    Column("province", TEXT, None),
    Column("city", TEXT, None),
    Column("tz", TEXT, None),
    Column("capacity_in_per_day", COUNT, None),
    Column("capacity_out_per_day", COUNT, None),
    Column("valid_from", DATE, None, True),
    Column("valid_to", DATE, None),
)

FEED_COLUMNS = {"exchange_office": EXCHANGE_OFFICE, "customs_centre": CUSTOMS_CENTRE, "reference": REFERENCE}


def header_key(cell: str) -> str:
    """Comparable form of a header cell: full-width folded, BOM, spaces, '_' and '-' dropped, lower case.

    So '重量（千克）', ' Weight_KG ', 'weight kg' and '\ufeffweight_kg' all compare equal.
    """
    text = unicodedata.normalize("NFKC", cell).replace("\ufeff", "")
    return re.sub(r"[\s_\-]+", "", text).lower()


def header_names(columns: tuple[Column, ...]) -> dict[str, Column]:
    names = {}
    for col in columns:
        names[header_key(col.name)] = col
        if col.zh:
            names[header_key(col.zh)] = col
    return names


def row_schema(columns: tuple[Column, ...]) -> dict:
    schema = {c.name: DTYPES[c.kind] for c in columns}
    schema.update(LINEAGE_SCHEMA)
    return schema
