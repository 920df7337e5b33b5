"""The item-level history: Apache Iceberg tables through pyiceberg (docs/decisions/0001).

The only code that opens the Iceberg catalog. Two tables, both in namespace `history`:

- `history.events`: every deduplicated item event, partitioned by `day(event_utc)`, each data
  file sorted by (item_id, event_utc). `event_local` is stored as its offset from `event_utc`
  in minutes (`local_offset_min`); the raw `event_time` text is not stored.
- `history.item_days`: (item_id, first_day, last_day) of each night's events per item,
  partitioned by `month(first_day)`, sorted by item_id: a timeline by S10 id reads this small
  index first, then only the item's day partitions. An item seen on several nights has a row
  per night; readers take min(first_day) and max(last_day).
- `history.clearance`, `history.dispatch`, `history.office_stay`: the per-item rows of the
  closed items (those that left the state's open events), moved there by the night that closed
  them (`closed_batch`), partitioned by the month of the date the marts read them by
  (CLOSED_TABLES), each file sorted by item_id. Columns: the core model's of the same name
  (transforms/dbt/models/core/_core.yml) plus closed_batch. A closed item that a late event
  opens again is masked, not rewritten: core.reopened_items names it with the reopening night,
  and a row is current unless its item was reopened at or after its closed_batch
  (models/core/all_*.sql, items.* views).

Catalog: a SQLite file in the history folder (`Paths.history_dir`) unless
`CLEARCAP_HISTORY_CATALOG` names a SQLAlchemy URL (the compose PostgreSQL); the data and
metadata files always live in that folder's `warehouse/`. Other engines open it as an Iceberg
SQL catalog named `clearcap` (the name is part of the catalog's key). Every function that changes a table is
for the writer only, under `writer.lock` (the catalog has one writer, like the state file).
DuckDB reads the data files directly: `read_parquet(?)` over a list from `event_files`, bound
as a parameter. Publications are recorded as Iceberg tags (`publication-YYYY-MM-DD`), so the
snapshots readers may still hold are visible to every engine and never expired.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import duckdb
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import (AlwaysFalse, And, BooleanExpression, GreaterThanOrEqual, LessThan,
                                   LessThanOrEqual, Or)
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform
from pyiceberg.types import (BooleanType, DateType, DoubleType, IntegerType, LongType, NestedField, StringType,
                             TimestampType)

from transforms.catalog import core_columns
from transforms.config import Paths

CATALOG_NAME = "clearcap"
NAMESPACE = "history"
BATCH_PROPERTY = "clearcap.batch_id"
PUBLICATION_TAG = "publication-"

# Optional fields throughout: DuckDB's Arrow output is nullable, and the key columns are
# guaranteed by the staging rules, not by the table format.
_EVENT_FIELDS = [("item_id", StringType()), ("event_code", StringType()),
                 ("event_utc", TimestampType()), ("office_code", StringType()),
                 ("next_office_code", StringType()), ("mail_class", StringType()),
                 ("origin_country", StringType()), ("destination_country", StringType()),
                 ("weight_g", DoubleType()), ("retention_code", StringType()),
                 ("reason_code", StringType()), ("action_code", StringType()),
                 ("file_id", LongType()), ("line", LongType()),
                 # event_local - event_utc: the office's wall clock exactly as staging derived it
                 # (offset given, or the zone of the reference row valid then), one small integer
                 # per office and season that compresses to almost nothing
                 ("local_offset_min", IntegerType())]
EVENT_COLUMNS = [name for name, _ in _EVENT_FIELDS]
EVENTS_SCHEMA = Schema(*(NestedField(i, name, t, required=False)
                         for i, (name, t) in enumerate(_EVENT_FIELDS, start=1)))
ITEM_DAYS_SCHEMA = Schema(NestedField(1, "item_id", StringType(), required=False),
                          NestedField(2, "first_day", DateType(), required=False),
                          NestedField(3, "last_day", DateType(), required=False))

# The closed items' per-item tables: {table: (partition date, the date columns the marts select
# its rows by)}. A clearance is partitioned by the day it was presented; the marts also read it by
# release day, which the files' column bounds prune (closed_files).
CLOSED_TABLES = {"clearance": ("presented_date", ("presented_date", "release_date")),
                 "dispatch": ("dispatch_date", ("dispatch_date",)),
                 "office_stay": ("departure_date", ("departure_date",))}
CLOSED_BATCH = "closed_batch"
_ICEBERG_TYPES = {"VARCHAR": StringType(), "TIMESTAMP": TimestampType(), "DATE": DateType(),
                  "DOUBLE": DoubleType(), "BOOLEAN": BooleanType(), "BIGINT": LongType(),
                  "INTEGER": IntegerType()}


def closed_schema(table: str) -> Schema:
    """The core model's columns (its one declaration, _core.yml) and closed_batch."""
    cols = [*core_columns(table).items(), (CLOSED_BATCH, "BIGINT")]
    return Schema(*(NestedField(i, name, _ICEBERG_TYPES[t], required=False)
                    for i, (name, t) in enumerate(cols, start=1)))

TABLE_PROPERTIES = {
    "write.parquet.compression-codec": "zstd",
    # A lookup by item_id (files sorted by it) decodes one row group per file: 128 Ki rows cost
    # ~9 ms a file against ~90 ms at the default 1 Mi. A small dictionary page makes the unique
    # columns (item_id, event_utc, line) fall back to plain encoding early, which wins back most
    # of what the smaller groups cost (1 M events a day: 14.7 B/event at 1 Mi rows, 19.7 at
    # 128 Ki, 17.8 at 128 Ki with this dictionary limit).
    "write.parquet.row-group-limit": "131072",
    "write.parquet.dict-size-bytes": "16384",
    "write.parquet.page-row-limit": "1024",
    # Planning a day opens only the manifests whose partition range covers it: merged manifests
    # would span many days and make every plan read them whole.
    "commit.manifest-merge.enabled": "false",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


@dataclass(frozen=True)
class History:
    catalog: SqlCatalog
    events: Table
    item_days: Table
    closed: dict[str, Table]  # CLOSED_TABLES

    def refresh(self) -> "History":
        load = self.catalog.load_table
        return History(self.catalog, load(f"{NAMESPACE}.events"), load(f"{NAMESPACE}.item_days"),
                       {t: load(f"{NAMESPACE}.{t}") for t in CLOSED_TABLES})

    def tables(self) -> list[Table]:
        return [self.events, self.item_days, *self.closed.values()]


def open_history(root: Path | Paths, catalog_url: str | None = None) -> History:
    """Open (creating on first use) the catalog and both tables under `root` (a folder, or the
    pipeline's Paths: its history_dir)."""
    root = root.history_dir if isinstance(root, Paths) else Path(root)
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    url = catalog_url or os.environ.get("CLEARCAP_HISTORY_CATALOG") or f"sqlite:///{root / 'catalog.db'}"
    catalog = SqlCatalog(CATALOG_NAME, uri=url, warehouse=(root / "warehouse").resolve().as_uri())
    catalog.create_namespace_if_not_exists(NAMESPACE)
    events = _open_table(
        catalog, f"{NAMESPACE}.events", EVENTS_SCHEMA,
        partition_spec=PartitionSpec(PartitionField(3, 1000, DayTransform(), "event_day")),
        sort_order=SortOrder(SortField(1, IdentityTransform()), SortField(3, IdentityTransform())),
        properties=TABLE_PROPERTIES)
    item_days = _open_table(
        catalog, f"{NAMESPACE}.item_days", ITEM_DAYS_SCHEMA,
        partition_spec=PartitionSpec(PartitionField(2, 1000, MonthTransform(), "first_month")),
        sort_order=SortOrder(SortField(1, IdentityTransform())),
        properties=TABLE_PROPERTIES)
    closed = {}
    for table, (part, _) in CLOSED_TABLES.items():
        schema = closed_schema(table)
        closed[table] = _open_table(
            catalog, f"{NAMESPACE}.{table}", schema,
            partition_spec=PartitionSpec(PartitionField(schema.find_field(part).field_id, 1000, MonthTransform(),
                                                        month_partition(part))),
            sort_order=SortOrder(SortField(1, IdentityTransform())),
            properties=TABLE_PROPERTIES)
    return History(catalog, events, item_days, closed)


def month_partition(date_column: str) -> str:
    """The month partition's name (and folder key) of a closed items' table."""
    return date_column.removesuffix("_date") + "_month"


def _open_table(catalog: SqlCatalog, name: str, schema: Schema, **spec) -> Table:
    # Not create_table_if_not_exists: it writes a first metadata file before it finds the table,
    # one orphan per open.
    if catalog.table_exists(name):
        return _evolve(catalog.load_table(name), schema)
    return catalog.create_table(name, schema, **spec)


def _evolve(table: Table, schema: Schema) -> Table:
    """Add to `table` the columns `schema` has and it lacks (a core model gained a column in its
    contract): one schema change, no data file rewritten; older files read those columns as NULL
    (readers use `union_by_name`). Contracts only grow, so a column the table has and the
    schema does not stays. A changed type is not evolved: Iceberg allows only widening, and the
    rows would need rewriting."""
    have = {f.name: f.field_type for f in table.schema().fields}
    changed = [f"{f.name} {have[f.name]} -> {f.field_type}" for f in schema.fields
               if f.name in have and have[f.name] != f.field_type]
    if changed:
        raise RuntimeError(f"{table.name()[-1]}: the history's columns have other types than the model's "
                           f"contract ({', '.join(changed)}); a type change needs the table rewritten")
    if all(f.name in have for f in schema.fields):
        return table
    with table.update_schema() as update:
        update.union_by_name(schema)
    return table.refresh()


# ---------------------------------------------------------------------------------------------
# writing

def committed(table: Table, batch_id: str) -> bool:
    """True if a retained snapshot of `table` carries this batch id. Snapshots older than the
    kept publications are expired: a rerun of an older night relies on deduplication instead."""
    return any(s.summary is not None and s.summary[BATCH_PROPERTY] == batch_id
               for s in table.snapshots())


def _copy_partitions(con: duckdb.DuckDBPyConnection, table: Table, select: str, part_name: str,
                     order: str, batch_id: str) -> list[str]:
    """COPY the rows of `select` (a query over temp.history_batch) to one zstd Parquet file per
    partition folder (`part_name`, an SQL expression naming it), each sorted by `order`, under the
    table's data folder; returns the paths. The rows are sorted once by (part_name, order) into a
    temp table, so each partition's COPY reads only its own row groups (zone maps). Folders are
    named as pyiceberg names them (`event_day=2026-03-02`, `first_month=2026-03`): appended and
    compacted files of a partition share one folder, which DuckDB reads as a hive partition
    column (items.events.event_day: a filter on it skips other days' files unopened)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE history_part AS SELECT {part_name} AS _part, * FROM ({select}) "
                f"ORDER BY _part, {order}")
    data = Path(_local(table.location())) / "data"
    paths = []
    for (part,) in con.execute("SELECT DISTINCT _part FROM temp.history_part ORDER BY 1").fetchall():
        target = data / part / f"clearcap-{batch_id}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute("COPY (SELECT * EXCLUDE (_part) FROM temp.history_part WHERE _part = ? "
                    f"ORDER BY {order}) TO ? (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
                    [part, str(target)])
        paths.append(str(target))
    con.execute("DROP TABLE temp.history_part")
    return paths


def add_events(history: History, con: duckdb.DuckDBPyConnection, batch_id: str) -> History:
    """Append a night's new events, the rows of `temp.history_batch` on `con` (the history
    columns; others are ignored), and their items' days, each table as one snapshot with
    property clearcap.batch_id. Written by DuckDB `COPY` (one file per event day / first-day
    month) and registered with `add_files`: pyarrow's write plus pyiceberg's own statistics
    cost several times more on a large night (docs/decisions/0004). A table that already has a
    snapshot of this batch is left alone, so a rerun after a crash between the two commits (or
    after both) appends each exactly once. Returns the refreshed History."""
    props = {BATCH_PROPERTY: batch_id}
    # add_files' duplicate check lists every data file of the table: linear in history. The
    # batch id in each path and the committed() check already make a file land once.
    if not committed(history.events, batch_id):
        paths = _copy_partitions(con, history.events, f"SELECT {', '.join(EVENT_COLUMNS)} FROM temp.history_batch",
                                 "strftime(event_utc, 'event_day=%Y-%m-%d')", "item_id, event_utc", batch_id)
        if paths:
            history.events.add_files(paths, snapshot_properties=props, check_duplicate_files=False)
    if not committed(history.item_days, batch_id):
        paths = _copy_partitions(
            con, history.item_days,
            "SELECT item_id, min(event_utc)::DATE AS first_day, max(event_utc)::DATE AS last_day "
            "FROM temp.history_batch GROUP BY item_id", "strftime(first_day, 'first_month=%Y-%m')", "item_id", batch_id)
        if paths:
            history.item_days.add_files(paths, snapshot_properties=props, check_duplicate_files=False)
    return history.refresh()


def add_closed(history: History, con: duckdb.DuckDBPyConnection, table: str, select: str,
               batch_id: str, params: list | None = None) -> History:
    """Append the rows of `select` (the columns of closed_schema(table), closed_batch last) to
    history.<table> as one snapshot with property clearcap.batch_id, unless a snapshot of that
    batch is there already (a rerun after a kill between this commit and the state's)."""
    target = history.closed[table]
    if committed(target, batch_id):
        return history
    con.execute(f"CREATE OR REPLACE TEMP TABLE history_closed AS {select}", params or [])
    part = CLOSED_TABLES[table][0]
    paths = _copy_partitions(con, target, "SELECT * FROM temp.history_closed",
                             f"strftime({part}, '{month_partition(part)}=%Y-%m')", "item_id", batch_id)
    con.execute("DROP TABLE temp.history_closed")
    if paths:
        target.add_files(paths, snapshot_properties={BATCH_PROPERTY: batch_id}, check_duplicate_files=False)
    return history.refresh()


# ---------------------------------------------------------------------------------------------
# planning: which immutable files hold what

def day_filter(days: Iterable[date], column: str = "event_utc") -> BooleanExpression:
    """Rows whose `column` falls on one of `days`, as one range per run of consecutive days."""
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and d == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    expr: BooleanExpression = AlwaysFalse()
    for first, last in runs:
        expr = Or(expr, And(GreaterThanOrEqual(column, first.isoformat() + "T00:00:00"),
                            LessThan(column, (last + timedelta(days=1)).isoformat() + "T00:00:00")))
    return expr


def _local(path: str) -> str:
    return path.removeprefix("file://")


def event_files(history: History, days: Iterable[date], snapshot_id: int | None = None) -> list[str]:
    """Data files of `history.events` (current snapshot, or `snapshot_id`) holding the given
    event days, as local paths for DuckDB read_parquet(?). The manifest list's partition ranges
    prune the manifests first, so the plan reads only manifests that cover those days. Select
    columns by name: DuckDB also reads the folder name `event_day=…` as a column."""
    scan = history.events.scan(row_filter=day_filter(days), snapshot_id=snapshot_id)
    return sorted(_local(t.file.file_path) for t in scan.plan_files())


def closed_files(history: History, table: str, first: date, last: date) -> list[str]:
    """Data files of history.<table> (current snapshot) that may hold rows whose date columns
    (CLOSED_TABLES) fall from `first` to `last`: the month partitions prune the manifests, the
    files' column bounds the files (a clearance's release days run past its presented month)."""
    expr: BooleanExpression = AlwaysFalse()
    for col in CLOSED_TABLES[table][1]:
        expr = Or(expr, And(GreaterThanOrEqual(col, first.isoformat()), LessThanOrEqual(col, last.isoformat())))
    return sorted(_local(t.file.file_path) for t in history.closed[table].scan(row_filter=expr).plan_files())


def item_day_files(history: History, since: date | None = None, snapshot_id: int | None = None) -> list[str]:
    """Data files of `history.item_days` (one a month once compacted): every one, or those of the
    months from `since` on (partitions by the month of `first_day`), as local paths."""
    if since is None:
        return table_files(history.item_days, snapshot_id)
    scan = history.item_days.scan(row_filter=GreaterThanOrEqual("first_day", since.isoformat()),
                                  snapshot_id=snapshot_id)
    return sorted(_local(t.file.file_path) for t in scan.plan_files())


def table_files(table: Table, snapshot_id: int | None = None) -> list[str]:
    """Every data file of `table` in its current snapshot (or `snapshot_id`), as local paths."""
    return sorted(_local(t.file.file_path) for t in table.scan(snapshot_id=snapshot_id).plan_files())


# ---------------------------------------------------------------------------------------------
# maintenance (writer only)

def _compact(table: Table, row_filter: BooleanExpression, files: list[str], select: str,
             con: duckdb.DuckDBPyConnection, label: str, min_files: int = 2) -> int:
    """Replace the files of one partition by the rows of `select` (a query over read_parquet(?)
    of those files), once it has `min_files`: DuckDB writes the new file into the partition's
    folder (streaming and spilling, as the nightly appends: a month of closed items at national
    volume does not fit pyiceberg's in-memory overwrite), then one transaction drops the old
    files (the filter falls on the partition's bounds: no rewrite) and adds the new one. A kill
    before the commit leaves an unreferenced file, removed by the next expiry."""
    if len(files) < max(2, min_files):
        return 0
    target = Path(files[0]).parent / f"clearcap-compacted-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}.parquet"
    con.execute(f"COPY ({select}) TO ? (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
                [files, str(target)])
    props = {"clearcap.compacted": label}
    with table.transaction() as tx:
        tx.delete(row_filter, snapshot_properties=props)
        tx.add_files([str(target)], snapshot_properties=props, check_duplicate_files=False)
    return len(files)


def compact_day(history: History, day: date, con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite one event day's files (late deliveries) as one sorted file; returns how many
    files were replaced (0: nothing to do). Readers holding the old list keep reading it: the
    old files stay until their snapshots expire (`expire`)."""
    files = event_files(history, [day])
    select = f"SELECT {', '.join(EVENT_COLUMNS)} FROM read_parquet(?) ORDER BY item_id, event_utc"
    return _compact(history.events, day_filter([day]), files, select, con, day.isoformat())


def compact_item_month(history: History, month: date, con: duckdb.DuckDBPyConnection) -> int:
    """The same for one month of history.item_days (one file a night until compacted), with the
    rows of an item seen on several nights merged into one (the index's readers take min/max)."""
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    flt = And(GreaterThanOrEqual("first_day", first.isoformat()), LessThan("first_day", nxt.isoformat()))
    files = sorted(_local(t.file.file_path) for t in history.item_days.scan(row_filter=flt).plan_files())
    select = ("SELECT item_id, min(first_day) AS first_day, max(last_day) AS last_day FROM read_parquet(?) "
              "GROUP BY item_id ORDER BY item_id")
    return _compact(history.item_days, flt, files, select, con, first.isoformat()[:7])


def _partitions_added_since(table: Table, since: datetime) -> set[int]:
    """Partition values (days or months since 1970) of the data files that snapshots committed
    at or after `since` added. Reads only those snapshots' own manifests (appends are never
    merged into older manifests), so the cost follows the recent nights, not the history."""
    since_ms = int(since.timestamp() * 1000)
    out: set[int] = set()
    for snap in table.snapshots():
        if snap.timestamp_ms < since_ms:
            continue
        for m in snap.manifests(table.io):
            if m.added_snapshot_id == snap.snapshot_id:
                out.update(e.data_file.partition[0] for e in m.fetch_manifest_entry(table.io, discard_deleted=True)
                           if e.status == ManifestEntryStatus.ADDED)
    return out


# A closed items' month is rewritten whole (at national volume tens of millions of rows) once it
# has this many files (one a night that closed items of it): the rewrite's cost spread over
# nights, the views' file lists still short.
CLOSED_COMPACT_FILES = 8


def compact_closed_month(history: History, table: str, month: date, con: duckdb.DuckDBPyConnection,
                         min_files: int = CLOSED_COMPACT_FILES) -> int:
    """The same for one month of a closed items' table, sorted by item_id, once it has
    `min_files` files; superseded rows stay (core.reopened_items masks them)."""
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    part = CLOSED_TABLES[table][0]
    flt = And(GreaterThanOrEqual(part, first.isoformat()), LessThan(part, nxt.isoformat()))
    target = history.closed[table]
    files = sorted(_local(t.file.file_path) for t in target.scan(row_filter=flt).plan_files())
    cols = ", ".join(target.schema().column_names)
    # union_by_name: files written before a column was added (_evolve) read it as NULL
    select = f"SELECT {cols} FROM read_parquet(?, hive_partitioning = false, union_by_name = true) ORDER BY item_id"
    return _compact(target, flt, files, select, con, f"{table} {first.isoformat()[:7]}", min_files)


def _month(v: int) -> date:
    return date(1970 + v // 12, v % 12 + 1, 1)


def compact_recent(history: History, con: duckdb.DuckDBPyConnection, since: datetime) -> dict:
    """Compact every event day, item_days month and closed items' month that received files
    since `since` (the nights' appends: late deliveries leave one small file per night in old
    days; closings one a night in their months). Returns {"days": [...], "months": [...],
    "closed": {table: [...]}, "files_replaced": n}."""
    epoch = date(1970, 1, 1)
    days = sorted(epoch + timedelta(days=v) for v in _partitions_added_since(history.events, since))
    months = sorted(_month(v) for v in _partitions_added_since(history.item_days, since))
    closed = {t: sorted(_month(v) for v in _partitions_added_since(history.closed[t], since))
              for t in CLOSED_TABLES}
    replaced = 0
    for d in days:
        replaced += compact_day(history, d, con)
        history = history.refresh()
    for m in months:
        replaced += compact_item_month(history, m, con)
        history = history.refresh()
    for table, ms in closed.items():
        for m in ms:
            replaced += compact_closed_month(history, table, m, con)
            history = history.refresh()
    return {"days": [d.isoformat() for d in days], "months": [m.isoformat()[:7] for m in months],
            "closed": {t: [m.isoformat()[:7] for m in ms] for t, ms in closed.items()},
            "files_replaced": replaced}


def drop_before(history: History, cutoff: date) -> None:
    """Retention: delete event days before `cutoff`, and item_days and closed items' months
    before cutoff's month. The filters fall on partition boundaries, so whole files leave the
    snapshot (no rewrite); the files themselves go when the snapshots that still list them
    expire."""
    history.events.delete(LessThan("event_utc", cutoff.isoformat() + "T00:00:00"))
    history.item_days.delete(LessThan("first_day", cutoff.replace(day=1).isoformat()))
    for table, (part, _) in CLOSED_TABLES.items():
        history.closed[table].delete(LessThan(part, cutoff.replace(day=1).isoformat()))


def retention_cutoff(today: date, years: int) -> date:
    """The first day kept when `years` years of history are kept as of `today`."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def tag_publication(history: History, run_date: date) -> dict[str, int | None]:
    """Record that the warehouse of `run_date` is published from the current snapshots: tag
    `publication-YYYY-MM-DD` on each table (moved to the current snapshot when the night is
    published again). Returns {table name: snapshot id} (None: the table has no snapshot yet)."""
    name = f"{PUBLICATION_TAG}{run_date.isoformat()}"
    out: dict[str, int | None] = {}
    for table in history.tables():
        key = table.name()[-1]
        snap = table.current_snapshot()
        out[key] = snap.snapshot_id if snap is not None else None
        if snap is None:
            continue
        ref = table.metadata.refs.get(name)
        if ref is None:
            table.manage_snapshots().create_tag(snap.snapshot_id, name).commit()
        elif ref.snapshot_id != snap.snapshot_id:
            table.manage_snapshots().remove_tag(name).commit()
            table.manage_snapshots().create_tag(snap.snapshot_id, name).commit()
    return out


def expire(history: History, keep_publications: int, now: datetime | None = None) -> list[str]:
    """Keep the snapshots of the last `keep_publications` publications and everything after
    them; drop older publication tags, expire older snapshots and delete the files that no
    retained snapshot references. Returns the deleted paths. Without any publication nothing
    is expired. "Last" is by the snapshot a tag points to, not by its name: a rerun of an older
    night is the newest publication (its tag moved to the current snapshot). A tag moved by a
    rerun stands for two publications, so the kept tags always cover the last
    `keep_publications` publications."""
    if keep_publications < 1:
        raise ValueError(f"CLEARCAP_KEEP_PUBLICATIONS must be at least 1, not {keep_publications}")
    deleted: list[str] = []
    for table in history.tables():
        refs = table.metadata.refs
        tags = sorted((name for name, ref in refs.items()
                       if ref.snapshot_ref_type == SnapshotRefType.TAG and name.startswith(PUBLICATION_TAG)),
                      key=lambda n: (table.metadata.snapshot_by_id(refs[n].snapshot_id).timestamp_ms, n))
        if not tags:
            continue
        kept, dropped = tags[-keep_publications:], tags[:-keep_publications]
        if dropped:
            manage = table.manage_snapshots()
            for name in dropped:
                manage = manage.remove_tag(name)
            manage.commit()
        oldest = min(table.metadata.snapshot_by_id(table.metadata.refs[t].snapshot_id).timestamp_ms for t in kept)
        old = [s.snapshot_id for s in table.snapshots() if s.timestamp_ms < oldest]
        if old:
            table.maintenance.expire_snapshots().by_ids(old).commit()
        deleted += remove_unreferenced(table, now or datetime.now(timezone.utc))
    return deleted


def _referenced(table: Table) -> set[str]:
    """Every file some retained snapshot needs: metadata, manifest lists, manifests, data."""
    io = table.io
    refs = {table.metadata_location} | {m.metadata_file for m in table.metadata.metadata_log}
    manifests = {}
    for snap in table.snapshots():
        refs.add(snap.manifest_list)
        for m in snap.manifests(io):
            manifests[m.manifest_path] = m
    for path, m in manifests.items():
        refs.add(path)
        refs.update(e.data_file.file_path for e in m.fetch_manifest_entry(io, discard_deleted=True))
    return {_local(p) for p in refs}


def remove_unreferenced(table: Table, older_than: datetime) -> list[str]:
    """Delete files under the table's folder that no retained snapshot references and that were
    last modified before `older_than`: what a writer killed between writing and committing
    leaves, and what expired snapshots alone listed. Returns the deleted paths."""
    table = table.refresh()
    root = Path(_local(table.location()))
    keep = _referenced(table)
    cutoff = older_than.timestamp()
    gone = []
    for path in root.rglob("*"):
        if path.is_file() and str(path) not in keep and path.stat().st_mtime < cutoff:
            path.unlink()
            gone.append(str(path))
    return sorted(gone)


def remove_orphans(history: History, older_than: datetime) -> list[str]:
    """`remove_unreferenced` on every table (run before a night's writes, with the time the
    last run ended or earlier, so no file of a live writer can match)."""
    return [p for table in history.tables() for p in remove_unreferenced(table, older_than)]
