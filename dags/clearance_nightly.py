"""clearance_nightly: the nightly clearcap pipeline, one run per operating day.

Schedule: 02:00 Asia/Shanghai every day, for the previous operating day. The timetable is
CronDataIntervalTimetable: the run starting at 02:00 on D+1 has data interval
[D 02:00, D+1 02:00), logical date D 02:00 local, and processes operating day D = the local
date of the logical date. So `airflow backfill create --from-date D1 --to-date D2` processes
D1..D2, and a manual run `airflow dags test clearance_nightly 2026-11-25` (or a trigger with
logical date 2026-11-25) processes 2026-11-25. A trigger without a logical date processes the
day before. The param `operating_day` overrides all of these
(transforms.orchestration.runtime.operating_day).

This file only wires tasks: each task body is one call into `transforms.pipeline`, imported
inside the task, so parsing this file imports neither the pipeline nor DuckDB nor GX and
touches no data. Paths come from the params `landing`/`warehouse`, else the environment
(CLEARCAP_LANDING, CLEARCAP_WAREHOUSE).

One writer at a time: max_active_runs=1, and only `load` .. `publish` write the state database;
the mapped `ingest` tasks each write their own files (named by content hash), so they may run
in parallel on any worker (queue CLEARCAP_INGEST_QUEUE, e.g. Celery workers). Every task is
idempotent, so retries are safe.

Alerts: after `publish`, the run's rows of mart.alerts go to the webhook / SMTP connections
`clearcap_alerts_webhook` / `clearcap_alerts_smtp` (each off when not configured); a failed run
notifies too (transforms.notify, imported only when a callback runs).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, get_current_context, task

LOCAL_TZ = pendulum.timezone("Asia/Shanghai")
INGEST_QUEUE = os.environ.get("CLEARCAP_INGEST_QUEUE", "default")
WRITER_QUEUE = os.environ.get("CLEARCAP_WRITER_QUEUE", "default")


def _run_args():
    from transforms.orchestration.runtime import run_args

    return run_args()


def _notify_published(context):
    """Alerts of the run -> webhook / e-mail (transforms.notify; off when not configured)."""
    from transforms.notify import on_published

    on_published(context)


def _notify_failed(context):
    from transforms.notify import on_failed

    on_failed(context)


with DAG(
    dag_id="clearance_nightly",
    description="Feeds -> DuckDB -> Great Expectations -> clearance indicators, published nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone=LOCAL_TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={
        "owner": "clearcap",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "queue": WRITER_QUEUE,
    },
    params={
        "operating_day": Param(None, type=["null", "string"], format="date",
                               description="Operating day YYYY-MM-DD (default: from the data interval)"),
        "landing": Param(None, type=["null", "string"], description="Landing zone (default: CLEARCAP_LANDING)"),
        "warehouse": Param(None, type=["null", "string"],
                           description="Published DuckDB file (default: CLEARCAP_WAREHOUSE)"),
    },
    tags=["clearcap", "nightly", "duckdb", "great-expectations"],
    on_failure_callback=_notify_failed,
    doc_md=__doc__,
) as dag:

    @task
    def plan() -> list[list[dict]]:
        """Files new or changed since they were last loaded, up to the operating day, in
        groups of similar size (CLEARCAP_INGEST_CHUNKS groups: one mapped ingest task each)."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.plan_chunks(paths, day)

    @task(queue=INGEST_QUEUE, map_index_template="{{ ingest_label }}")
    def ingest(entries: list[dict]) -> list[dict]:
        """Read and check a group of files; each file writes its own parquet + manifest
        (named by content hash), so mapped instances run in parallel on any worker."""
        from transforms import pipeline

        get_current_context()["ingest_label"] = f"{len(entries)} files: {entries[0]['path']} ..."
        paths, _ = _run_args()
        return pipeline.ingest_files(paths, entries)

    @task(trigger_rule="none_failed")  # runs when no file was planned (ingest mapped to 0)
    def load(manifests) -> dict:
        """Single writer: ledger rows and the staging batch."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.load(paths, day, [m for group in (manifests or []) for m in group])

    # One task per layer of the dbt project (transforms/dbt/models/<layer>), each invoking dbt
    # in process (docs/decisions/0002: not Cosmos).
    @task
    def build_staging() -> dict:
        """Staging models, checked by the quality gate (Great Expectations): reference first,
        then the feeds; failing rows and files are quarantined for the core layer."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.build_staging(paths, day)

    @task
    def build_core() -> dict:
        """Core models: the batch applied to the private state and the history."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.build_core(paths, day)

    @task
    def build_marts() -> dict:
        """Mart models for the days the night changed."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.build_marts(paths, day)

    @task(retries=0)  # a failed error-severity rule is data, not a transient fault: no retry
    def validate_marts() -> dict:
        """Error-severity rule failures raise here: publish is blocked."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.validate_marts(paths, day)

    @task(on_success_callback=_notify_published)
    def publish() -> dict:
        """Atomically replace the published warehouse."""
        from transforms import pipeline

        paths, day = _run_args()
        return pipeline.publish(paths, day)

    @task(retries=0)
    def dashboard(published: dict) -> dict:
        """Regenerate the HTML dashboard from the published warehouse."""
        from transforms.dashboard import build_dashboard

        paths, _ = _run_args()
        out = build_dashboard(published["warehouse"], paths.dashboard)
        return {"dashboard": str(out)}

    @task
    def compact_history() -> dict:
        """The writer again, after publish: one file per recently appended history partition."""
        from transforms import pipeline

        paths, _ = _run_args()
        return pipeline.compact_history(paths)

    manifests = ingest.expand(entries=plan())
    loaded = load(manifests)
    published = publish()
    loaded >> build_staging() >> build_core() >> build_marts() >> validate_marts() >> published
    dashboard(published)
    published >> compact_history()
