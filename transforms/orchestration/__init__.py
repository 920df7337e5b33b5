"""Airflow environment set-up and runners for the embedded default (SQLite metadata).

Importing this package does not import Airflow."""
from transforms.orchestration.env import DAG_ID, DAGS_FOLDER, DEFAULT_HOME, airflow_env, ensure_airflow_db
from transforms.orchestration.runner import AirflowRunError, DayResult, run_days

__all__ = ["DAG_ID", "DAGS_FOLDER", "DEFAULT_HOME", "airflow_env", "ensure_airflow_db", "run_days",
           "AirflowRunError", "DayResult"]
