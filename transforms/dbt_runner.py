"""Run the dbt project (transforms/dbt/) in process on a DuckDB file.

The profile, dbt's target/ (with the partial-parse cache that keeps a night's invocation at a
few seconds) and its logs live in a work directory beside the state, never in the installed
package. dbt-duckdb keeps its read-write connection open after an invocation; it is closed
here so that the caller, or another process, can open the file next.

The profile is the same text for every state: dbt reparses the whole project (≈ 20 s) when any
value of the connection changes, so the database is named relative to the invocation's working
directory (the state's folder). That lets a new state start from the parse (and lineage page)
another state made of the same project files: PARSE_CACHE, keyed by what they depend on."""
from __future__ import annotations

import hashlib
import os
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


# The parse and lineage page of a project, shared by the states of one machine (each state's
# work directory keeps its own copy): CLEARCAP_DBT_CACHE, else the user's cache directory.
def _default_cache() -> Path | None:
    if os.environ.get("CLEARCAP_DBT_CACHE"):
        return Path(os.environ["CLEARCAP_DBT_CACHE"])
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clearcap" / "dbt"
    except (KeyError, RuntimeError):  # an account with no home: no cache, a parse per state
        return None


PARSE_CACHE = _default_cache()
PARSE_FILE = "partial_parse.msgpack"
LINEAGE_FILE = "static_index.html"


def _profile(database: Path, work_dir: Path) -> str:
    """profiles.yml in `work_dir`, the same text for every state (see the module docstring):
    the invocation runs in database's folder; returns the text."""
    profile = {"clearcap": {"target": "state", "outputs": {"state": {
        "type": "duckdb", "path": database.name, "threads": 1,
        # the spill folder, relative to the state's folder like the database
        "plugins": [{"module": "transforms.dbt_session", "config": {"temp_directory": "tmp"}}]}}}}
    text = yaml.safe_dump(profile, sort_keys=False)
    out = work_dir / "profiles.yml"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return text


def _cache_dir(profile: str) -> Path | None:
    """The shared cache entry of this project (its files, dbt's and the adapter's versions, its
    folder: the parse records file paths) with this profile."""
    from importlib.metadata import version

    if PARSE_CACHE is None:
        return None
    key = hashlib.sha256("\0".join([project_digest(), version("dbt-duckdb"), str(PROJECT_DIR),
                                     profile]).encode())
    return PARSE_CACHE / key.hexdigest()[:32]


def _from_cache(entry: Path | None, name: str, dest: Path) -> bool:
    """Copy the cache's `name` to dest when dest is missing; a cache that cannot be read is
    only slower (a full parse)."""
    if entry is None or dest.exists() or not (entry / name).is_file():
        return False
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            shutil.copyfile(entry / name, tmp)
        return True
    except OSError:
        return False


def _to_cache(entry: Path | None, name: str, src: Path) -> None:
    if entry is None or (entry / name).exists() or not src.is_file():
        return
    try:
        entry.mkdir(parents=True, exist_ok=True)
        with atomic_path(entry / name) as tmp:
            shutil.copyfile(src, tmp)
    except OSError:
        pass  # a read-only or full cache: the next new state parses again


def _close_connections() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import cleanup_connections

    cleanup_connections()
    with DuckDBConnectionManager._LOCK:  # the environment holds the DuckDB database instance
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            # every state has the same profile: an environment kept for equal credentials would
            # keep its plugin's folder, which is the previous state's
            DuckDBConnectionManager._ENV = None
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
    page = work_dir / "target" / LINEAGE_FILE
    entry = _cache_dir(_profile(database, work_dir))
    # the page holds the project and the catalog of its tables (names, types, comments; no
    # row counts): the same for every state built by these project files
    page.unlink(missing_ok=True)
    if not _from_cache(entry, LINEAGE_FILE, page):
        invoke(database, work_dir, run_date, ["docs", "generate", "--static"])
        _to_cache(entry, LINEAGE_FILE, page)
    with atomic_path(out) as tmp:
        shutil.copyfile(page, tmp)
    stamp.write_text(digest, encoding="utf-8")
    return True


def invoke(database: Path, work_dir: Path, run_date: date, args: list[str],
           variables: dict | None = None):
    """dbt `args` (e.g. ["build", "--select", "mart"]) on `database` for the night of
    `run_date`, with `variables` as DuckDB variables (getvariable('name') in the models);
    returns dbt's result, raises DbtFailed naming the failing nodes."""
    from dbt.cli.main import dbtRunner

    # absolute: the invocation runs in the state's folder
    database, work_dir = Path(database).absolute(), Path(work_dir).absolute()
    work_dir.mkdir(parents=True, exist_ok=True)
    entry = _cache_dir(_profile(database, work_dir))
    parse = work_dir / "target" / PARSE_FILE
    _from_cache(entry, PARSE_FILE, parse)
    SESSION_VARIABLES.clear()
    SESSION_VARIABLES.update(variables or {}, run_date=run_date)
    cwd = os.getcwd()
    try:
        os.chdir(database.parent)  # the profile's path and spill folder are relative to it
        res = dbtRunner().invoke([
            *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(work_dir),
            "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs"),
            # warnings and errors only in logs/dbt.log: at debug level dbt logs every statement
            # of every model (≈ 10 % of a small night's dbt CPU, megabytes a night)
            "--quiet", "--log-level-file", "warn"])
    finally:
        os.chdir(cwd)
        _close_connections()
        SESSION_VARIABLES.clear()
    if res.success:
        _to_cache(entry, PARSE_FILE, parse)
    else:
        failed = [f"{r.node.name}: {r.message}" for r in getattr(res.result, "results", None) or []
                  if str(r.status) in ("error", "fail", "runtime error")]
        raise DbtFailed(f"dbt {' '.join(args)} failed: " + ("; ".join(failed) or str(res.exception)))
    return res
