"""Imported once by each Celery worker at start (Celery's `imports` setting, given through
AIRFLOW__CELERY__EXTRA_CELERY_CONFIG in COMPOSE_SETTINGS): Airflow runs every task in a process
forked from the worker, which then inherits the pipeline, dbt and Great Expectations already
imported instead of importing them again, task after task (about 8 s of a night's 10 tasks on
two idle cores: docs/decisions/0003, session 9). Importing starts no thread and opens nothing.

`python -m transforms.orchestration.preload <airflow arguments>` runs an Airflow command in a
process that has imported them: the embedded runner's LocalExecutor scheduler (backfill mode)
forks its task processes from it as a Celery worker does."""
import dbt.adapters.duckdb  # noqa: F401
import dbt.cli.main  # noqa: F401

import transforms.dbt_session  # noqa: F401
import transforms.pipeline  # noqa: F401
import transforms.publish  # noqa: F401
import transforms.quality.engine  # noqa: F401

if __name__ == "__main__":
    import sys

    from airflow.__main__ import main

    sys.argv = ["airflow", *sys.argv[1:]]
    sys.exit(main())
