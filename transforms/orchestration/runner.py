"""Run clearance_nightly through real Airflow for a range of operating days, in order.

Modes (measured per-day Airflow overhead in the report / module docstring of __init__):
  "dagtest"  (default) one child Python process loads the DAG once and calls dag.test() per
             day; DagRuns and task instances are recorded in the SQLite metadata DB.
  "cli"      `airflow dags test clearance_nightly <day>` per day (a new process per day).
  "backfill" `airflow backfill create --from-date --to-date` executed by a scheduler and a
             dag-processor started as child processes and stopped afterwards.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from transforms.orchestration.env import DAG_ID, _airflow_bin, _sqlite_path, ensure_airflow_db



@dataclass
class DayResult:
    operating_day: date
    run_id: str | None
    state: str
    seconds: float
    log: str                                   # log of the day's run (dagtest/cli) or of the failed task
    tasks: dict[str, list[dict]] = field(default_factory=dict)  # task_id -> [{map_index, state}]

    def failed_tasks(self) -> list[str]:
        """Tasks that failed themselves (not merely upstream_failed)."""
        return sorted({t for t, tis in self.tasks.items() for ti in tis if ti["state"] == "failed"})


class AirflowRunError(RuntimeError):
    def __init__(self, result: DayResult, detail: str = ""):
        self.result = result
        failed = ", ".join(result.failed_tasks()) or "(no task failed; see log)"
        super().__init__(f"clearance_nightly for {result.operating_day} ended in state {result.state}; "
                         f"failed task(s): {failed}; log: {result.log}" + (f"; {detail}" if detail else ""))


def _days(first: date, last: date) -> list[date]:
    if last < first:
        raise ValueError(f"last day {last} is before first day {first}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _log_dir(env: dict[str, str]) -> Path:
    d = Path(env["AIRFLOW_HOME"]) / "logs" / "clearcap_runs" / time.strftime("%Y%m%dT%H%M%S")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _task_states(env: dict[str, str], run_id: str) -> dict[str, list[dict]]:
    con = sqlite3.connect(f"file:{_sqlite_path(env)}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("select task_id, map_index, state from task_instance where dag_id=? and run_id=?",
                           (DAG_ID, run_id)).fetchall()
    finally:
        con.close()
    tasks: dict[str, list[dict]] = {}
    for task_id, map_index, state in rows:
        tasks.setdefault(task_id, []).append({"map_index": map_index, "state": state})
    return tasks


def _default_progress(r: DayResult) -> None:
    print(f"  {r.operating_day}  {r.state:<8} {r.seconds:6.1f}s", file=sys.stderr, flush=True)


def run_days(first: date, last: date, env: dict[str, str], mode: str = "dagtest",
             progress: Callable[[DayResult], None] | None = _default_progress) -> list[DayResult]:
    """Run the DAG for every operating day first..last (inclusive) in order.

    Every run must end in state success; otherwise raises AirflowRunError naming the failed
    task(s) and the log path. Returns one DayResult per day."""
    days = _days(first, last)
    ensure_airflow_db(env)
    runner = {"dagtest": _run_dagtest, "cli": _run_cli, "backfill": _run_backfill}[mode]
    return runner(days, env, progress or (lambda r: None))


# -- (b) one process, dag.test() per day ---------------------------------------------------

def _run_dagtest(days: list[date], env: dict[str, str], progress) -> list[DayResult]:
    log_dir = _log_dir(env)
    results_file = log_dir / "results.jsonl"
    results_file.touch()
    cmd = [sys.executable, "-m", "transforms.orchestration._dagtest_worker",
           days[0].isoformat(), days[-1].isoformat(), str(results_file), str(log_dir)]
    worker_log = log_dir / "worker.log"
    out: list[DayResult] = []
    with open(worker_log, "w") as wl:
        proc = subprocess.Popen(cmd, env=env, cwd=env["AIRFLOW_HOME"], stdout=wl, stderr=subprocess.STDOUT)
        seen = 0
        try:
            while True:
                done = proc.poll() is not None
                lines = results_file.read_text().splitlines()
                for line in lines[seen:]:
                    rec = json.loads(line)
                    if "operating_day" not in rec:
                        continue
                    r = DayResult(date.fromisoformat(rec["operating_day"]), rec["run_id"], rec["state"],
                                  rec["seconds"], rec["log"], rec["tasks"])
                    out.append(r)
                    progress(r)
                    if r.state != "success":
                        proc.wait()
                        raise AirflowRunError(r, rec.get("error") or "")
                seen = len(lines)
                if done:
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    if len(out) != len(days):
        raise RuntimeError(f"Airflow worker exited with {proc.returncode} after {len(out)} of {len(days)} days; "
                           f"log: {worker_log}")
    return out


# -- (a) `airflow dags test` per day ---------------------------------------------------------

def _run_cli(days: list[date], env: dict[str, str], progress) -> list[DayResult]:
    log_dir = _log_dir(env)
    out = []
    for day in days:
        log_path = log_dir / f"{day.isoformat()}.log"
        t = time.monotonic()
        with open(log_path, "w") as fh:
            rc = subprocess.run([_airflow_bin(), "dags", "test", DAG_ID, f"{day.isoformat()}T02:00:00+08:00",
                                 "--conf", json.dumps({"operating_day": day.isoformat()})],
                                env=env, cwd=env["AIRFLOW_HOME"], stdout=fh, stderr=subprocess.STDOUT).returncode
        seconds = time.monotonic() - t
        run_id = _latest_run_id(env, day)
        tasks = _task_states(env, run_id) if run_id else {}
        r = DayResult(day, run_id, "success" if rc == 0 else "failed", round(seconds, 3), str(log_path), tasks)
        out.append(r)
        progress(r)
        if rc != 0:
            raise AirflowRunError(r)
    return out


def _latest_run_id(env: dict[str, str], day: date) -> str | None:
    con = sqlite3.connect(f"file:{_sqlite_path(env)}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute("select run_id from dag_run where dag_id=? and json_extract(conf, '$.operating_day')=? "
                          "order by id desc limit 1", (DAG_ID, day.isoformat())).fetchone()
    except sqlite3.Error:
        row = None
    finally:
        con.close()
    return row[0] if row else None


# -- (c) `airflow backfill create` + scheduler + dag-processor + api-server ------------------

def _query(env: dict[str, str], sql: str, args: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(f"file:{_sqlite_path(env)}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _start(args: list[str], env: dict[str, str], log: Path, preloaded: bool = False) -> subprocess.Popen:
    """`airflow <args>` in its own session; `preloaded`: in a process that imported the pipeline
    first, whose forked task processes inherit it (preload.py)."""
    fh = open(log, "w")
    cmd = [sys.executable, "-m", "transforms.orchestration.preload"] if preloaded else [_airflow_bin()]
    return subprocess.Popen([*cmd, *args], env=env, cwd=env["AIRFLOW_HOME"], stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:  # each was started in its own session: signal its process group only
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _run_backfill(days: list[date], env: dict[str, str], progress, timeout_s: float = 3600) -> list[DayResult]:
    """Start api-server (tasks call its execution API), scheduler and dag-processor; create a
    backfill over the range (logical dates D 02:00+08:00, both ends included); wait; stop."""
    log_dir = _log_dir(env)
    # No cron run beside the backfill (Airflow 3.3 does not count backfill runs in
    # max_active_runs): the backfill alone writes, night after night.
    env = dict(env, AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.2",
               AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
               AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")
    procs = [_start(["api-server"], env, log_dir / "api-server.log"),
             _start(["dag-processor"], env, log_dir / "dag-processor.log")]
    t0 = time.monotonic()
    out: list[DayResult] = []
    try:
        while not _query(env, "select 1 from serialized_dag where dag_id=?", (DAG_ID,)):
            if time.monotonic() - t0 > 120:
                raise RuntimeError(f"dag-processor did not register {DAG_ID}; log: {log_dir}")
            time.sleep(0.5)
        first, last = days[0].isoformat(), days[-1].isoformat()
        bf = subprocess.run([_airflow_bin(), "backfill", "create", "--dag-id", DAG_ID,
                             "--from-date", f"{first}T02:00:00+08:00", "--to-date", f"{last}T02:00:00+08:00",
                             "--reprocess-behavior", "completed", "--max-active-runs", "1"],
                            env=env, capture_output=True, text=True)
        (log_dir / "backfill-create.log").write_text(bf.stdout + bf.stderr)
        if bf.returncode != 0:
            raise RuntimeError(f"airflow backfill create failed; log: {log_dir / 'backfill-create.log'}")
        # task logs are read from the local folder: no log server on all interfaces
        # LocalExecutor: each task a process forked from the scheduler, the pipeline already imported
        procs.append(_start(["scheduler", "--skip-serve-logs"], env, log_dir / "scheduler.log", preloaded=True))
        subprocess.run([_airflow_bin(), "dags", "unpause", DAG_ID], env=env, check=True, capture_output=True)
        backfill_id = _query(env, "select max(id) from backfill where dag_id=?", (DAG_ID,))[0][0]
        reported: set[str] = set()
        started = time.monotonic()
        while len(reported) < len(days):
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"backfill {backfill_id} timed out; logs: {log_dir}")
            rows = _query(env, "select run_id, state, logical_date, start_date, end_date from dag_run "
                               "where backfill_id=? order by logical_date", (backfill_id,))
            for run_id, state, logical, start, end in rows:
                if run_id in reported or state not in ("success", "failed"):
                    continue
                reported.add(run_id)
                day = _local_day(logical)
                tasks = _task_states(env, run_id)
                secs = _seconds(start, end)
                r = DayResult(day, run_id, state, secs, str(log_dir / "scheduler.log"), tasks)
                if state != "success":
                    r.log = _task_log(env, run_id, r.failed_tasks()) or r.log
                out.append(r)
                progress(r)
                if state != "success":
                    raise AirflowRunError(r)
            time.sleep(0.5)
    finally:
        subprocess.run([_airflow_bin(), "dags", "pause", DAG_ID], env=env, capture_output=True)
        _stop(procs)
    return sorted(out, key=lambda r: r.operating_day)


def _local_day(logical: str) -> date:
    import pendulum

    return pendulum.parse(logical).in_timezone("Asia/Shanghai").date()


def _seconds(start: str | None, end: str | None) -> float:
    import pendulum

    if not (start and end):
        return 0.0
    return round((pendulum.parse(end) - pendulum.parse(start)).total_seconds(), 3)


def _task_log(env: dict[str, str], run_id: str, task_ids: list[str]) -> str | None:
    """Newest log file of the first failed task of a run executed by an executor."""
    base = Path(env.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or Path(env["AIRFLOW_HOME"]) / "logs")
    for task_id in task_ids:
        hits = sorted(base.glob(f"dag_id={DAG_ID}/run_id={run_id}/task_id={task_id}/**/*.log"),
                      key=lambda p: p.stat().st_mtime)
        if hits:
            return str(hits[-1])
    return None
