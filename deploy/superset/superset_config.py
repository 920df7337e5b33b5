"""Superset settings for the clearcap warehouse (deploy/superset; compose profile "superset")."""
import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]  # checked by start.sh (required, no default)
# Superset's own metadata (users, charts, dashboards): SQLite in the superset-home volume
SQLALCHEMY_DATABASE_URI = "sqlite:////app/superset_home/superset.db"
# The warehouse file is replaced by rename every night: never serve cached chart data across a
# publish. (Queries open a new DuckDB connection each time: Superset's analytics engines use
# NullPool, and the database's engine_params open it read_only.)
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
# analysts read; nobody writes through Superset
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000
# served on 127.0.0.1 behind the operator's TLS proxy
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = True
