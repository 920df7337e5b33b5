"""The dbt-duckdb plugin that gives dbt's DuckDB sessions the pipeline's settings: the same
memory, threads, UTC time zone and spill directory as transforms.db.connect_state, and the
night's run_date as a DuckDB variable (bound, never written into SQL text). run_date comes from
CLEARCAP_RUN_DATE, not from the profile or a dbt var: either would change every night and make
dbt parse the whole project again (≈ 20 s) instead of partially."""
from __future__ import annotations

import os
from datetime import date

from dbt.adapters.duckdb.plugins import BasePlugin

from transforms.db import settings
from transforms.dbt_runner import RUN_DATE_ENV


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        self.temp_directory = plugin_config["temp_directory"]

    def configure_cursor(self, cursor) -> None:
        # every dbt connection is a cursor of its own: variables and TimeZone are per cursor
        settings(cursor)
        cursor.execute("SET temp_directory = ?", [self.temp_directory])
        run_date = os.environ.get(RUN_DATE_ENV)
        if not run_date:
            raise RuntimeError(f"{RUN_DATE_ENV} is not set: the models need the night's operating day")
        cursor.execute("SET VARIABLE run_date = ?", [date.fromisoformat(run_date)])
