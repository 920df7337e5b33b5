"""The mart layer: the dbt project's models for the days a run touched (models/mart/, each a
delete+insert of the rows its refresh rule selects), then the run's bookkeeping."""
from __future__ import annotations

from datetime import date

import duckdb

from transforms import dbt_runner, history as H
from transforms.catalog import mart_tables
from transforms.config import Paths
from transforms.core_build import empty_file

# the stock of items in customs per day (core.clearance_daily, for the pending days), every mart
# and the views of cross-table facts the mart suites check: one invocation a night, on the days
# the core build chose (work.refresh_days)
MODELS = ["clearance_daily", "mart", "mart_checks"]


def closed_files(paths: Paths) -> dict[str, list[str]]:
    """`closed_<table>_files` for models/core/all_*.sql: the history files of closed items whose
    dates the marts read tonight (work.history_reads), each list ending with an empty typed file
    (read_parquet needs one)."""
    # read-only: only the models change the state in this step
    with duckdb.connect(str(paths.state_db), read_only=True) as con:
        reads = {t: (lo, hi) for t, lo, hi in con.execute("SELECT closed_table, lo, hi FROM work.history_reads").fetchall()}
    history = H.open_history(paths) if reads else None
    out = {}
    for table, (part, _) in H.CLOSED_TABLES.items():
        files = H.closed_files(history, table, *reads[table]) if table in reads else []
        out[f"closed_{table}_files"] = files + [
            empty_file(paths, H.closed_schema(table).as_arrow(), f"{H.month_partition(part)}=1970-01")]
    return out


def run_models(paths: Paths, run_date: date) -> None:
    """The mart models on the state file. The caller holds writer.lock and no connection to the
    file (dbt-duckdb opens its own read-write one). Each model commits alone: a crash part way
    leaves core.pending_dates and core.runs as they were, so the rerun recomputes the whole
    layer on the same days."""
    # --no-write-json: the manifest and run results are not read (≈ 1 s a night); the lineage
    # page makes its own
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date,
                      ["run", "--select", *MODELS, "--no-write-json"], variables=closed_files(paths))


def publish_lineage(paths: Paths, run_date: date) -> bool:
    """The models' lineage page beside the Data Docs, made again when the project changed
    (≈ 2 s in a process that has just run dbt, ≈ 18 s in a fresh one)."""
    return dbt_runner.publish_lineage(paths.state_db, paths.state_dir / "dbt", run_date, paths.lineage)


def record_build(con: duckdb.DuckDBPyConnection, run_date: date) -> dict:
    """After every mart model succeeded: the pending days are built, the marts await validation."""
    days = con.execute("SELECT count(*), min(d), max(d) FROM work.refresh_days").fetchone()
    counts = {t: con.execute(f"SELECT count(*) FROM mart.{t}").fetchone()[0] for t in mart_tables()}
    con.execute("BEGIN")
    try:
        if days[0]:
            con.execute("DELETE FROM core.mart_validation; "
                        "INSERT INTO core.mart_validation VALUES ('pending')")
        con.execute("DELETE FROM core.pending_dates")
        con.execute("""INSERT OR REPLACE INTO core.runs (run_date, started_at, finished_at, status)
                       VALUES (?, now()::TIMESTAMP, now()::TIMESTAMP, 'built')""", [run_date])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"refresh_days": days[0], "from": str(days[1]), "to": str(days[2]), "rows": counts}
