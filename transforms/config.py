"""Where things live and the few settings the pipeline needs."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LANDING = "var/landing"
DEFAULT_WAREHOUSE = "var/warehouse.duckdb"
# Two cores and 24 GB per machine: leave room for Airflow and readers beside DuckDB.
DUCKDB_MEMORY_LIMIT = os.environ.get("CLEARCAP_DUCKDB_MEMORY", "4GB")
DUCKDB_THREADS = int(os.environ.get("CLEARCAP_DUCKDB_THREADS", "2"))
# Item events dated more than this many days before their file's date folder are quarantined
# (timestamp_out_of_window): late delivery is normal, a scanner clock reset to 2000 is not.
# The other side of the window is the night being run (docs/architecture.md).
EVENT_LOOKBACK_DAYS = 30
# Item-level history (transforms/history.py): years of event days kept, and how many of the last
# publications keep their snapshots (and so their files) for readers that still hold them.
HISTORY_YEARS = int(os.environ.get("CLEARCAP_HISTORY_YEARS", "5"))
KEEP_PUBLICATIONS = int(os.environ.get("CLEARCAP_KEEP_PUBLICATIONS", "3"))
# An item with no event for this many days closes: its events leave the private state
# (core.open_events), its per-item rows move to the history's tables of closed items; a late
# event reads its events back from the history. The state holds about this many days of events:
# the setting trades the state's size against how often a late event reads an item back. More
# than the event lookback (30 days), so an event delivered as late as the feeds allow mostly
# finds its item open; the demo's items live up to about 12 days.
ITEM_WINDOW_DAYS = int(os.environ.get("CLEARCAP_ITEM_WINDOW_DAYS", "35"))
# How far back a late event of a closed item looks for its earlier events: the item index's
# months from this many days before the night's oldest event (so the lookup reads a bounded
# window, not every year of history). An S10 id silent for longer starts a new item: serials
# are reused. A year, far beyond any item's life in the feeds.
ITEM_REOPEN_DAYS = int(os.environ.get("CLEARCAP_ITEM_REOPEN_DAYS", "365"))


def datadocs_nights() -> int:
    """CLEARCAP_DATADOCS_NIGHTS: how many nights of Data Docs pages are kept (default 90); the
    published directory then stays the same size night after night."""
    text = os.environ.get("CLEARCAP_DATADOCS_NIGHTS", "90")
    try:
        nights = int(text)
    except ValueError:
        nights = 0
    if nights < 1:
        raise ValueError(f"CLEARCAP_DATADOCS_NIGHTS must be a whole number of nights >= 1, got {text!r}")
    return nights


@dataclass(frozen=True)
class Paths:
    landing: Path
    warehouse: Path
    # The pipeline's private state directory; None = beside the published file. A deployment
    # sets CLEARCAP_STATE so readers can mount the published directory without the state.
    state: Path | None = None

    @classmethod
    def from_args(cls, landing: str | os.PathLike | None = None,
                  warehouse: str | os.PathLike | None = None) -> "Paths":
        landing = landing or os.environ.get("CLEARCAP_LANDING") or DEFAULT_LANDING
        env_warehouse = os.environ.get("CLEARCAP_WAREHOUSE") or DEFAULT_WAREHOUSE
        warehouse = Path(warehouse or env_warehouse).resolve()
        # CLEARCAP_STATE belongs to the CLEARCAP_WAREHOUSE it was set for: another warehouse
        # named on the command line keeps its own state beside it (never shared).
        env_state = os.environ.get("CLEARCAP_STATE")
        state = Path(env_state).resolve() if env_state and warehouse == Path(env_warehouse).resolve() else None
        return cls(Path(landing).resolve(), warehouse, state)

    @property
    def state_dir(self) -> Path:
        # Beside the published file, named after it, so two warehouses never share state.
        return self.state or self.warehouse.with_name(self.warehouse.stem + ".state")

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.duckdb"

    @property
    def ingest_dir(self) -> Path:
        return self.state_dir / "ingest"

    @property
    def history_dir(self) -> Path:
        # The Iceberg tables' files, and their SQLite catalog unless CLEARCAP_HISTORY_CATALOG is set.
        return self.state_dir / "history"

    @property
    def items_dir(self) -> Path:
        # Published beside the warehouse: the per-item tables of the last publications, as
        # Parquet files the warehouse's items.* views read (transforms/items.py).
        return self.warehouse.with_name(self.warehouse.stem + "_items")

    @property
    def datadocs_dir(self) -> Path:
        # Published beside the warehouse: the GX report of every night, readable offline.
        return self.warehouse.with_name(self.warehouse.stem + "_datadocs")

    @property
    def dashboard(self) -> Path:
        return self.warehouse.with_name(self.warehouse.stem + "_dashboard.html")

    @property
    def lineage(self) -> Path:
        # `dbt docs` of the models, one offline page beside the Data Docs
        return self.warehouse.with_name(self.warehouse.stem + "_lineage.html")
