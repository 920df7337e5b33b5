"""The nightly steps. Each is a function of (paths, run_date, ...) returning a JSON-able dict,
called the same way by the CLI (run_night) and by the Airflow DAG (one task each)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import duckdb

from transforms import core_build, ingest as ingest_mod, load as load_mod, marts, validate
import fcntl
import os

from transforms.config import HISTORY_YEARS, KEEP_PUBLICATIONS, Paths
from transforms.db import connect_state, settings
from transforms.ingest import ingest_file  # noqa: F401  (a step of its own)
from transforms.landing import plan_files


INGEST_CHUNKS = int(os.environ.get("CLEARCAP_INGEST_CHUNKS", "2"))
PARALLEL_INGEST_BYTES = 64 << 20
# compact_history's default window: last night's appends, and the night before if it was missed
COMPACT_LOOKBACK = timedelta(hours=48)  # below this, starting worker processes costs more than it saves


@contextmanager
def writer(paths: Paths):
    """One writer of the state at a time: a second process waits for the lock instead of
    failing on DuckDB's own file lock."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.state_dir / "writer.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def state(paths: Paths):
    """The state database, for the one writer."""
    with writer(paths):
        con = connect_state(paths)
        try:
            yield con
        finally:
            con.close()


def _same_batch(paths: Paths, run_date: date) -> None:
    """Steps after `load` work on the batch it staged: refuse another night's batch, which
    would mean two runs interleaved (Airflow's max_active_runs does not cover backfills).
    The caller holds writer.lock; the connection is closed again before the step runs dbt,
    which opens the file itself."""
    con = connect_state(paths)
    try:
        staged = con.execute("SELECT any_value(run_date) FROM staging.batch_meta").fetchone()[0]
    finally:
        con.close()
    if staged is not None and staged != run_date:
        raise RuntimeError(f"the staged batch belongs to the night of {staged}, not {run_date}: "
                           f"another run interleaved; run the night of {run_date} again")


def plan(paths: Paths, run_date: date) -> list[dict]:
    """The files to load tonight, after finishing a batch an earlier run left half applied
    (its files would otherwise be planned again)."""
    with writer(paths):
        core_build.finish_interrupted(paths)
        con = connect_state(paths)
        try:
            return plan_files(con, paths.landing, run_date)
        finally:
            con.close()


def plan_chunks(paths: Paths, run_date: date, chunks: int | None = None) -> list[list[dict]]:
    """The planned files in at most `chunks` groups of similar size: one mapped ingest task
    each, so a day with thousands of files costs a few task starts, not thousands."""
    entries = plan(paths, run_date)
    n = max(1, min(chunks or INGEST_CHUNKS, len(entries)))
    groups: list[list[dict]] = [[] for _ in range(n)]
    sizes = [0] * n
    for entry in sorted(entries, key=lambda e: -e["size"]):
        i = sizes.index(min(sizes))
        groups[i].append(entry)
        sizes[i] += entry["size"]
    return [g for g in groups if g]


def ingest_files(paths: Paths, entries: list[dict]) -> list[dict]:
    return [ingest_file(paths, e) for e in entries]


def ingest_parallel(paths: Paths, entries: list[dict]) -> list[dict]:
    """Ingest on every core when the night is big (files are read one thread each); the
    manifests come back in plan order. Airflow does the same with mapped tasks."""
    if len(entries) < 2 or sum(e["size"] for e in entries) < PARALLEL_INGEST_BYTES:
        return ingest_files(paths, entries)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: a forked child inherits DuckDB's threads and locks mid-flight
    try:
        with ProcessPoolExecutor(max_workers=INGEST_CHUNKS,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(ingest_mod.ingest_file, [paths] * len(entries), entries))
    except BrokenProcessPool:
        # e.g. a parent whose __main__ cannot be re-imported (python -c, stdin): same work,
        # one process; files already ingested are reused by content hash
        return ingest_files(paths, entries)


def load(paths: Paths, run_date: date, manifests: list[dict]) -> dict:
    with state(paths) as con:
        return load_mod.stage_batch(con, run_date, list(manifests))


def build_staging(paths: Paths, run_date: date) -> dict:
    """The staging layer's models on the staged batch, checked by the quality gate."""
    with writer(paths):
        _same_batch(paths, run_date)
        return validate.validate_batch(paths, run_date)


def build_core(paths: Paths, run_date: date) -> dict:
    """The core layer: the checked batch applied to the state and the history."""
    with writer(paths):
        _same_batch(paths, run_date)
        return core_build.build_core(paths, run_date)


def build_marts(paths: Paths, run_date: date) -> dict:
    with writer(paths):
        marts.run_models(paths, run_date)  # dbt opens the file itself: no connection of ours
        lineage = marts.publish_lineage(paths, run_date)
        con = connect_state(paths)
        try:
            return {**marts.record_build(con, run_date), "lineage_regenerated": lineage}
        finally:
            con.close()


def validate_marts(paths: Paths, run_date: date) -> dict:
    with state(paths) as con:
        return validate.validate_marts(con, run_date, paths)


def publish(paths: Paths, run_date: date) -> dict:
    from transforms import publish as publish_mod

    with state(paths) as con:
        return publish_mod.publish(con, paths, run_date)


def compact_history(paths: Paths, since: datetime | None = None) -> dict:
    """Compact the history's partitions that received files since `since` (default: the last
    COMPACT_LOOKBACK), as the writer. Runs after publish: readers of the published file keep
    the files it lists until its publication is older than the last KEEP_PUBLICATIONS."""
    from transforms import history as H

    since = since or datetime.now(timezone.utc) - COMPACT_LOOKBACK
    with writer(paths):
        con = duckdb.connect()
        try:
            settings(con)
            con.execute("SET temp_directory = ?", [str(paths.state_dir / "tmp")])
            return H.compact_recent(H.open_history(paths), con, since)
        finally:
            con.close()


def expire_history(paths: Paths, today: date, years: int = HISTORY_YEARS,
                   keep: int = KEEP_PUBLICATIONS) -> dict:
    """Retention, as the writer: drop event days older than `years` years before `today` (whole
    partitions; the marts keep their rows), then expire snapshots older than the last `keep`
    publications and delete the files none of the kept snapshots lists."""
    from transforms import history as H

    with writer(paths):
        history = H.open_history(paths)
        cutoff = H.retention_cutoff(today, years)
        H.drop_before(history, cutoff)
        deleted = H.expire(history.refresh(), keep)
        return {"cutoff": cutoff.isoformat(), "files_deleted": len(deleted)}


def rebuild(paths: Paths, first: date, last: date) -> dict:
    """Recompute the core timelines of every item with an event from `first` to `last`, and the
    marts of those days and every later day already built, from the item-level history alone
    (after a definition changed): no landing file is read. An empty batch staged for the latest
    built night goes through the core, mart, validation and publish steps; the published
    mornings' alerts stay as they were."""
    with state(paths) as con:
        night = con.execute("SELECT max(run_date) FROM core.runs WHERE finished_at IS NOT NULL").fetchone()[0]
    if night is None:
        raise RuntimeError(f"{paths.state_dir} has no built night to rebuild: run the nights first")
    if last < first or first > night:
        raise RuntimeError(f"nothing to rebuild from {first} to {last}: the latest built night is {night}")
    report, timings = {"night": night.isoformat(), "from": first.isoformat(), "to": last.isoformat()}, {}

    def timed(name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)
        return out

    with writer(paths):
        core_build.finish_interrupted(paths)
    timed("load", load, paths, night, [])
    with writer(paths):
        report["build_core"] = timed("build_core", core_build.build_core, paths, night, rebuild=(first, last))
    report["build_marts"] = timed("build_marts", build_marts, paths, night)
    report["validate_marts"] = timed("validate_marts", validate_marts, paths, night)
    report["publish"] = timed("publish", publish, paths, night)
    report["timings"] = timings
    return report


def run_night(paths: Paths, run_date: date) -> dict:
    """Every step in order for one operating day; returns each step's result and time."""
    report, timings = {"run_date": run_date.isoformat()}, {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        timings[name] = round(time.perf_counter() - t0, 3)
        return out

    entries = timed("plan", plan, paths, run_date)
    manifests = timed("ingest", ingest_parallel, paths, entries)
    report["load"] = timed("load", load, paths, run_date, manifests)
    report["build_staging"] = timed("build_staging", build_staging, paths, run_date)
    report["build_core"] = timed("build_core", build_core, paths, run_date)
    report["build_marts"] = timed("build_marts", build_marts, paths, run_date)
    report["validate_marts"] = timed("validate_marts", validate_marts, paths, run_date)
    report["publish"] = timed("publish", publish, paths, run_date)
    report["compact_history"] = timed("compact_history", compact_history, paths)
    report["timings"] = timings
    return report
