"""Helpers called inside Airflow task bodies (at run time, never at DAG parse time).

Kept free of Airflow and pipeline imports at module level."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping

import pendulum

LOCAL_TZ = pendulum.timezone("Asia/Shanghai")


def operating_day(params: Mapping[str, Any] | None, logical_date: datetime | None,
                  run_after: datetime | None = None) -> date:
    """Operating day a run processes.

    1. DAG param `operating_day` (YYYY-MM-DD) when given (trigger conf / run_conf).
    2. Else the local (Asia/Shanghai) date of the logical date. The DAG uses
       CronDataIntervalTimetable("0 2 * * *", Asia/Shanghai): the run that starts at 02:00 on
       D+1 covers [D 02:00, D+1 02:00), its logical date is D 02:00 local, so it processes D;
       each run of `airflow backfill create` likewise. A manual run / `airflow dags test`
       with logical date 2026-11-25 (00:00 UTC = 08:00 local) processes 2026-11-25. (Its
       inferred data interval is the last complete one, [11-24 02:00, 11-25 02:00), which is
       why the logical date and not data_interval_start decides.)
    3. Else (a trigger without a logical date): the day before run_after, i.e. the last
       complete operating day.
    """
    value = (params or {}).get("operating_day")
    if value:
        return date.fromisoformat(str(value)[:10])
    if logical_date is not None:
        return pendulum.instance(logical_date).in_timezone(LOCAL_TZ).date()
    now = pendulum.instance(run_after) if run_after is not None else pendulum.now(LOCAL_TZ)
    return now.in_timezone(LOCAL_TZ).date() - timedelta(days=1)


def run_args(context: Mapping[str, Any] | None = None):
    """(Paths, operating day) of the current task's run: paths from the DAG params
    `landing`/`warehouse`, else env CLEARCAP_LANDING/CLEARCAP_WAREHOUSE, else defaults."""
    if context is None:
        from airflow.sdk import get_current_context
        context = get_current_context()
    from transforms.config import Paths

    params = context.get("params") or {}
    dag_run = context.get("dag_run")
    day = operating_day(params, context.get("logical_date"), getattr(dag_run, "run_after", None))
    return Paths.from_args(params.get("landing") or None, params.get("warehouse") or None), day
