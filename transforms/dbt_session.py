"""The dbt-duckdb plugin that gives dbt's DuckDB sessions the pipeline's settings: the same
memory, threads, UTC time zone and spill directory as transforms.db.connect_state, and the
invocation's values as DuckDB variables (bound, never written into SQL text): the night's
run_date, the settings the models read, and what Python computed for them
(dbt_runner.invoke(variables=...)). None of them comes from the profile or a dbt var: either
would change every night and make dbt parse the whole project again (≈ 20 s) instead of
partially."""
from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

from transforms.config import EVENT_LOOKBACK_DAYS
from transforms.db import SQL_DIR, quote_ident, settings
from transforms.dbt_runner import SESSION_VARIABLES

# settings of the models, the same every night
CONSTANTS = {"event_lookback_days": EVENT_LOOKBACK_DAYS, "seeds_dir": str(SQL_DIR / "seeds")}


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        # relative to the state's folder, the invocation's working directory (dbt_runner)
        self.temp_directory = os.path.abspath(plugin_config["temp_directory"])

    def configure_cursor(self, cursor) -> None:
        # every dbt connection is a cursor of its own: variables and TimeZone are per cursor
        settings(cursor)
        # the setting is the database's: once a model has spilled, DuckDB refuses to set it
        # again, even to the same folder (a peak night's second model failed on exactly that)
        if cursor.execute("SELECT current_setting('temp_directory')").fetchone()[0] != self.temp_directory:
            cursor.execute("SET temp_directory = ?", [self.temp_directory])
        if "run_date" not in SESSION_VARIABLES:
            raise RuntimeError("no dbt invocation under way (transforms.dbt_runner.invoke): "
                               "the models need the night's operating day")
        for name, value in {**CONSTANTS, **SESSION_VARIABLES}.items():
            cursor.execute(f"SET VARIABLE {quote_ident(name)} = ?", [value])
