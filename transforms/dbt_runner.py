"""Run the dbt project (transforms/dbt/) in process on a DuckDB file.

The profile, dbt's target/ (with the partial-parse cache that keeps a night's invocation at a
few seconds) and its logs live in a work directory beside the state, never in the installed
package. dbt-duckdb keeps its read-write connection open after an invocation; it is closed
here so that the caller, or another process, can open the file next."""
from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import yaml

from transforms.files import atomic_path

PROJECT_DIR = Path(__file__).resolve().parent / "dbt"
# The DuckDB variables of the invocation under way (transforms.dbt_session sets them on every
# dbt cursor, bound): the night's run_date and the values Python computed for the models.
SESSION_VARIABLES: dict = {}


class DbtFailed(RuntimeError):
    """A dbt invocation failed: the message names each failing node and dbt's error."""


def _profile(database: Path, work_dir: Path) -> None:
    profile = {"clearcap": {"target": "state", "outputs": {"state": {
        "type": "duckdb", "path": str(database), "threads": 1,
        "plugins": [{"module": "transforms.dbt_session",
                     "config": {"temp_directory": str(work_dir.parent / "tmp")}}]}}}}
    text = yaml.safe_dump(profile, sort_keys=False)
    out = work_dir / "profiles.yml"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")


def _close_connections() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import cleanup_connections

    cleanup_connections()
    with DuckDBConnectionManager._LOCK:  # the environment holds the DuckDB database instance
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()


def project_digest() -> str:
    """What the lineage page is made of: dbt's version and every file of the project."""
    from dbt.version import __version__

    h = hashlib.sha256(__version__.encode())
    for f in sorted(p for p in PROJECT_DIR.rglob("*") if p.is_file()):
        h.update(f.relative_to(PROJECT_DIR).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def publish_lineage(database: Path, work_dir: Path, run_date: date, out: Path) -> bool:
    """`dbt docs generate --static` (the page with manifest and catalog inlined, which opens
    from file:// without a server or a CDN) copied to `out`, replacing it; only when the
    project changed since the page was made. Returns whether it was regenerated."""
    stamp = work_dir / "lineage.sha256"
    digest = project_digest()
    if out.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return False
    invoke(database, work_dir, run_date, ["docs", "generate", "--static"])
    with atomic_path(out) as tmp:
        shutil.copyfile(work_dir / "target" / "static_index.html", tmp)
    stamp.write_text(digest, encoding="utf-8")
    return True


def invoke(database: Path, work_dir: Path, run_date: date, args: list[str],
           variables: dict | None = None):
    """dbt `args` (e.g. ["build", "--select", "mart"]) on `database` for the night of
    `run_date`, with `variables` as DuckDB variables (getvariable('name') in the models);
    returns dbt's result, raises DbtFailed naming the failing nodes."""
    from dbt.cli.main import dbtRunner

    work_dir.mkdir(parents=True, exist_ok=True)
    _profile(database, work_dir)
    SESSION_VARIABLES.clear()
    SESSION_VARIABLES.update(variables or {}, run_date=run_date)
    try:
        res = dbtRunner().invoke([
            *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(work_dir),
            "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs"),
            "--quiet"])
    finally:
        _close_connections()
        SESSION_VARIABLES.clear()
    if not res.success:
        failed = [f"{r.node.name}: {r.message}" for r in getattr(res.result, "results", None) or []
                  if str(r.status) in ("error", "fail", "runtime error")]
        raise DbtFailed(f"dbt {' '.join(args)} failed: " + ("; ".join(failed) or str(res.exception)))
    return res
