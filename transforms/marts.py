"""The mart layer: the dbt project's models for the days a run touched (models/mart/, each a
delete+insert of the rows its refresh rule selects), then the run's bookkeeping."""
from __future__ import annotations

from datetime import date

import duckdb

from transforms import dbt_runner
from transforms.catalog import mart_tables
from transforms.config import Paths

# work.refresh_days (the days to recompute), every mart and the views of cross-table facts the
# mart suites check: one invocation a night
MODELS = ["refresh_days", "mart", "mart_checks"]


def run_models(paths: Paths, run_date: date) -> None:
    """The mart models on the state file. The caller holds writer.lock and no connection to the
    file (dbt-duckdb opens its own read-write one). Each model commits alone: a crash part way
    leaves core.pending_dates and core.runs as they were, so the rerun recomputes the whole
    layer on the same days."""
    # --no-write-json: the manifest and run results are not read (≈ 1 s a night); the lineage
    # page makes its own
    dbt_runner.invoke(paths.state_db, paths.state_dir / "dbt", run_date,
                      ["run", "--select", *MODELS, "--no-write-json"])


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
