"""The compose deployment in real containers (run by scripts/container_e2e.sh, part of `make test`;
skipped in a plain pytest run). One scenario, step by step, on a demo landing zone:

- an unfilled `.env` is refused (compose names the missing secret; airflow-init names placeholders);
- the stack comes up healthy with throwaway secrets and `--scale airflow-worker=2`, only on 127.0.0.1;
- night A is triggered through the REST API with a token; its mapped ingest ran on two workers;
- night B is a backfill (`airflow backfill create`) while a reader container queries the published
  warehouse in a loop: 0 errors, and it saw the publish;
- night C: the writer worker container is killed in the middle of `build_core`; docker restarts it,
  the task is retried, the run succeeds and the published warehouse equals an uninterrupted run
  of the same nights (`clearcap run` in a container of the same image);
- Superset (profile "superset"): logged in through its REST API, the national chart's data shows
  night A, and after night B's publish the new operating day (no connection outlives a publish);
  its container reads the item-level views (items.events) over the history it mounts read-only;
- no secret appears in the compose logs nor in the task logs.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import pprint
import re
import shutil
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("CLEARCAP_CONTAINER_E2E") != "1",
                                reason="run by scripts/container_e2e.sh (make test); needs a container engine")

REPO = Path(__file__).resolve().parents[1]
PROJECT = "clearcape2e"
DAG_ID = "clearance_nightly"
START = date(2026, 3, 2)
NIGHT_A, NIGHT_B, NIGHT_C = START + timedelta(days=1), START + timedelta(days=2), START + timedelta(days=3)
RUN_TIMEOUT_S = 600
T0 = time.monotonic()

# Queries the published warehouse in a loop (read-only mount, connection per query) until it has
# seen the target night published, then prints a summary line.
READER_LOOP = r"""
import duckdb, json, sys, time
path, target, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
seen, errors, queries, after, t0 = {}, [], 0, 0, time.time()
while time.time() - t0 < limit and after < 20:
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            day = str(con.execute("SELECT max(run_date) FROM mart.publication").fetchone()[0])
            con.execute("SELECT count(*), sum(items_received) FROM mart.national_daily WHERE report_date <= ?::DATE",
                        [day]).fetchone()
        finally:
            con.close()
        queries += 1
        seen[day] = seen.get(day, 0) + 1
        if queries == 1:
            print("reader-loop: ready", flush=True)
        after += day >= target
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.05)
print("reader-loop: " + json.dumps({"queries": queries, "errors": len(errors), "first_errors": errors[:5],
                                    "days": seen}), flush=True)
"""


def log(msg: str) -> None:
    print(f"container e2e [{time.monotonic() - T0:5.0f}s] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], timeout: float = 600, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[:6])} ... exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def local(day: date) -> str:
    return f"{day.isoformat()}T02:00:00+08:00"


class Stack:
    """The compose project: throwaway secrets in a 0600 .env, its directories, REST API access."""

    def __init__(self, work: Path, out: Path):
        self.work, self.out = work, out
        self.landing, self.warehouse_dir, self.state_dir = work / "landing", work / "warehouse", work / "state"
        for d in (self.warehouse_dir, self.state_dir):
            d.mkdir(parents=True)
        self.secrets = {
            "POSTGRES_PASSWORD": secrets.token_urlsafe(24), "REDIS_PASSWORD": secrets.token_urlsafe(24),
            "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48), "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
            "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
            "FLOWER_BASIC_AUTH": "flower:" + secrets.token_urlsafe(18),
            "SUPERSET_SECRET_KEY": secrets.token_urlsafe(48), "SUPERSET_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        }
        self.api_port, self.reader_port, self.superset_port = free_port(), free_port(), free_port()
        settings = {k: v for k, _, v in (ln.partition("=") for ln in (REPO / ".env.example").read_text().splitlines()
                                         if ln.strip() and not ln.startswith("#"))}
        settings.update(self.secrets, CLEARCAP_LANDING_DIR=str(self.landing),
                        CLEARCAP_WAREHOUSE_DIR=str(self.warehouse_dir), CLEARCAP_STATE_DIR=str(self.state_dir),
                        CLEARCAP_IMAGE=os.environ["CLEARCAP_E2E_IMAGE"],
                        CLEARCAP_POSTGRES_IMAGE=os.environ["CLEARCAP_E2E_POSTGRES_IMAGE"],
                        CLEARCAP_REDIS_IMAGE=os.environ["CLEARCAP_E2E_REDIS_IMAGE"],
                        CLEARCAP_SUPERSET_IMAGE=os.environ["CLEARCAP_E2E_SUPERSET_IMAGE"],
                        SUPERSET_PORT=str(self.superset_port),
                        AIRFLOW_API_PORT=str(self.api_port), CLEARCAP_READER_PORT=str(self.reader_port),
                        FLOWER_PORT=str(free_port()))
        self.env_file = work / ".env"
        fd = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.token: str | None = None

    def compose(self, *args: str, env_file: Path | None = None, timeout: float = 600, check: bool = True,
                stdin: str | None = None) -> subprocess.CompletedProcess:
        cmd = ["docker-compose", "-p", PROJECT, "--env-file", str(env_file or self.env_file),
               "-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "tests" / "containers" / "compose.e2e.yml"),
               "--profile", "reader", "--profile", "superset", *args]
        return run(cmd, timeout=timeout, check=check, cwd=REPO, input=stdin)

    def containers(self) -> list[dict]:
        ids = run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]).stdout.split()
        return json.loads(run(["docker", "inspect", *ids]).stdout) if ids else []

    def service_containers(self, service: str) -> list[dict]:
        return [c for c in self.containers() if c["Config"]["Labels"].get("com.docker.compose.service") == service]

    def wait_healthy(self, timeout: float = 600) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            cs = self.containers()
            init = [c for c in cs if c["Config"]["Labels"]["com.docker.compose.service"] == "airflow-init"]
            if init and init[0]["State"]["Status"] == "exited" and init[0]["State"]["ExitCode"] != 0:
                raise AssertionError("airflow-init failed:\n" + self.compose("logs", "--no-color", "airflow-init").stdout)
            others = [c for c in cs if c not in init]
            if init and init[0]["State"]["Status"] == "exited" and len(others) >= 11 and all(
                    c["State"]["Status"] == "running" and c["State"].get("Health", {}).get("Status") == "healthy"
                    for c in others):
                return cs
            if time.monotonic() > deadline:
                raise AssertionError("not healthy: " + ", ".join(
                    f"{c['Name']}={c['State']['Status']}/{c['State'].get('Health', {}).get('Status')}" for c in cs))
            time.sleep(3)

    # -- REST API ------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {"detail": exc.read().decode(errors="replace")[:500]}

    def login(self) -> None:
        status, body = self.api("POST", "/auth/token", {"username": "admin",
                                                        "password": self.secrets["AIRFLOW_ADMIN_PASSWORD"]}, auth=False)
        assert status in (200, 201) and body.get("access_token"), status
        self.token = body["access_token"]

    def task_instances(self, run_id: str) -> list[dict]:
        status, body = self.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100")
        assert status == 200, body
        return body["task_instances"]

    def wait_run(self, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, run_ = self.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            except (TimeoutError, urllib.error.URLError):  # an API server starved of CPU: poll again
                continue
            if status == 401:  # token expired on a slow machine: log in again
                self.login()
                continue
            assert status == 200, run_
            if run_["state"] in ("success", "failed"):
                return run_
            time.sleep(1)
        raise AssertionError(f"run {run_id} not finished after {timeout}s: "
                             f"{[(t['task_id'], t['state']) for t in self.task_instances(run_id)]}")

    def trigger(self, day: date) -> str:
        status, body = self.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": local(day)})
        assert status == 200, body
        return body["dag_run_id"]

    # -- Superset's REST API -----------------------------------------------------------------
    def superset(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.superset_port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        if body is not None:  # (a GET with a JSON content type and no body is a 400 for Flask)
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {"detail": exc.read().decode(errors="replace")[:500]}

    def superset_national_days(self) -> tuple[set[str], int]:
        """(operating days, rows) in the data of the dashboard's national chart, fetched through
        Superset's REST API (the chart's saved query)."""
        status, body = self.superset("POST", "/api/v1/security/login", {
            "username": "admin", "password": self.secrets["SUPERSET_ADMIN_PASSWORD"], "provider": "db"})
        assert status == 200 and body.get("access_token"), status
        token = body["access_token"]
        status, body = self.superset("GET", "/api/v1/dashboard/clearcap/charts", token=token)
        assert status == 200, body
        charts = {c["slice_name"]: c["id"] for c in body["result"]}
        assert len(charts) == 4, charts
        [chart_id] = [i for name, i in charts.items() if name.startswith("National daily")]
        status, body = self.superset("GET", f"/api/v1/chart/{chart_id}/data/?format=json", token=token)
        assert status == 200, body
        rows = body["result"][0]["data"]
        # DATE values come as epoch milliseconds (or ISO text, depending on the version)
        days = {str(datetime.fromtimestamp(r["report_date"] / 1000, timezone.utc).date()
                    if isinstance(r["report_date"], (int, float)) else r["report_date"])[:10] for r in rows}
        return days, len(rows)

    def redacted_logs(self) -> str:
        text = self.compose("logs", "--no-color", "--timestamps", check=False).stdout
        for value in self.secrets.values():
            text = text.replace(value, "***")
        return text


def published_files(stack: Stack) -> None:
    wh = stack.warehouse_dir
    assert (wh / "warehouse.duckdb").is_file() and (wh / "warehouse_dashboard.html").is_file()
    assert (wh / "warehouse_datadocs" / "index.html").is_file()
    assert (stack.state_dir / "state.duckdb").is_file()
    assert not list(wh.glob("*.state")), "private state in the published directory"
    assert (wh / "warehouse.duckdb").stat().st_uid == 50000


def test_compose_deployment_in_containers():
    from pipeline_helpers import diff, snapshot
    from transforms.demo import generate

    work, out = Path(os.environ["CLEARCAP_E2E_WORK"]), Path(os.environ["CLEARCAP_E2E_OUT"])
    stack = Stack(work, out)
    generate(stack.landing, start=START, days=4, scale=0.1)
    image = os.environ["CLEARCAP_E2E_IMAGE"]
    ok = False
    try:
        # -- an unfilled .env is refused before anything starts ---------------------------------
        proc = stack.compose("up", "airflow-init", env_file=REPO / ".env.example", check=False, timeout=120)
        named = re.search(r"set ([A-Z_]+) in \.env", proc.stderr)
        assert proc.returncode != 0 and named, proc.stderr[-2000:]
        proc = run(["docker", "run", "--rm", "--network", "none", "-e", "POSTGRES_PASSWORD=# REQUIRED", image,
                    "python", "/opt/clearcap/deploy/check_settings.py"], check=False)
        assert proc.returncode == 1 and "POSTGRES_PASSWORD looks like a placeholder" in proc.stderr, proc.stderr
        assert "AIRFLOW_FERNET_KEY is empty or missing" in proc.stderr, proc.stderr
        log(f"unfilled .env refused: compose names {named.group(1)}; airflow-init names placeholders and empties")

        # -- bring-up ------------------------------------------------------------------------------
        stack.compose("up", "-d", "--no-build", "--scale", "airflow-worker=2", timeout=900)
        cs = stack.wait_healthy()
        log(f"stack healthy: {len(cs)} containers ({', '.join(sorted(c['Name'].lstrip('/') for c in cs))})")
        for c in cs:
            for port, binds in (c["NetworkSettings"]["Ports"] or {}).items():
                for b in binds or []:
                    assert b["HostIp"] == "127.0.0.1", (c["Name"], port, b)
        published = sorted(f"{b['HostIp']}:{b['HostPort']}" for c in cs
                           for binds in (c["NetworkSettings"]["Ports"] or {}).values() for b in binds or [])
        log(f"published ports: {published} (all on 127.0.0.1)")

        status, _ = stack.api("GET", f"/api/v2/dags/{DAG_ID}", auth=False)
        assert status == 401, status  # no anonymous access
        stack.login()
        deadline = time.monotonic() + 180
        while stack.api("GET", f"/api/v2/dags/{DAG_ID}")[0] != 200:
            assert time.monotonic() < deadline, "DAG not registered by the dag-processor"
            time.sleep(2)
        status, body = stack.api("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        assert status == 200 and body["is_paused"] is False, body

        # -- night A: REST API trigger; mapped ingest on two workers --------------------------------
        t = time.monotonic()
        run_a = stack.trigger(NIGHT_A)
        state = stack.wait_run(run_a)["state"]
        tis = stack.task_instances(run_a)
        assert state == "success", [(ti["task_id"], ti["state"]) for ti in tis]
        published_files(stack)
        log(f"night A {NIGHT_A} (REST API trigger, run {run_a}): {state} in {time.monotonic() - t:.0f}s")
        hosts = {c["Config"]["Hostname"]: c["Name"].lstrip("/") for c in stack.containers()}
        ingest = [ti for ti in tis if ti["task_id"] == "ingest"]
        assert len(ingest) == 4 and {ti["state"] for ti in ingest} == {"success"}, ingest
        ingest_hosts = sorted({ti["hostname"] for ti in ingest})
        assert len(ingest_hosts) >= 2 and all(h in hosts for h in ingest_hosts), (ingest_hosts, hosts)
        log(f"mapped ingest (4 tasks) ran on {len(ingest_hosts)} workers: "
            f"{', '.join(f'{h} ({hosts[h]})' for h in ingest_hosts)}")
        writer_tasks = {ti["task_id"]: ti["hostname"] for ti in tis if ti["task_id"] not in ("ingest", "dashboard")}
        assert set(writer_tasks.values()) == {"clearcap-writer"}, writer_tasks
        # the reader service serves the published files and nothing of the state
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.reader_port}/warehouse_dashboard.html", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{stack.reader_port}/warehouse.state/", timeout=10)
        assert e.value.code == 404
        days, rows = stack.superset_national_days()
        assert max(days) == NIGHT_A.isoformat(), days
        log(f"Superset: national chart data through the REST API: {rows} rows, last operating day {max(days)}")
        # items.* from Superset's container: its views read the history it mounts read-only and
        # give the rows the writer's container counts in the same published file
        count = ("import duckdb; c = duckdb.connect('/data/warehouse/warehouse.duckdb', read_only=True); "
                 "print(c.execute('SELECT count(*) FROM items.events').fetchone()[0])")
        seen = {svc: int(stack.compose("exec", "-T", svc, "python", "-c", count).stdout.split()[-1])
                for svc in ("superset", "airflow-worker-writer")}
        assert seen["superset"] == seen["airflow-worker-writer"] > 0, seen
        log(f"Superset's container reads items.events over the mounted history: {seen['superset']} events")

        # -- night B: backfill, a reader querying in a loop through the publish ---------------------
        reader = run(["docker", "run", "-d", "--network", "none", "--read-only", "--tmpfs", "/tmp", "-w", "/tmp",
                      "--user", "50000:0", "-v", f"{stack.warehouse_dir}:/data/warehouse:ro", "--entrypoint", "python",
                      image, "-c", READER_LOOP, "/data/warehouse/warehouse.duckdb", NIGHT_B.isoformat(), "600"]
                     ).stdout.strip()
        try:
            deadline = time.monotonic() + 120
            while "reader-loop: ready" not in run(["docker", "logs", reader]).stdout:
                assert time.monotonic() < deadline, run(["docker", "logs", reader]).stderr
                time.sleep(0.5)
            t = time.monotonic()
            stack.compose("exec", "-T", "airflow-scheduler", "airflow", "backfill", "create", "--dag-id", DAG_ID,
                          "--from-date", local(NIGHT_B), "--to-date", local(NIGHT_B),
                          "--reprocess-behavior", "completed", "--max-active-runs", "1", timeout=300)
            deadline = time.monotonic() + 120
            while True:
                runs = [r for r in stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100")[1]["dag_runs"]
                        if r["run_type"] == "backfill"]
                if runs:
                    break
                assert time.monotonic() < deadline, "backfill created no run"
                time.sleep(1)
            [run_b] = [r["dag_run_id"] for r in runs]
            state = stack.wait_run(run_b)["state"]
            assert state == "success", [(ti["task_id"], ti["state"]) for ti in stack.task_instances(run_b)]
            log(f"night B {NIGHT_B} (backfill, run {run_b}): {state} in {time.monotonic() - t:.0f}s")
            assert run(["docker", "wait", reader], timeout=700).stdout.strip() == "0"
            summary = json.loads(run(["docker", "logs", reader]).stdout.strip().splitlines()[-1].split(": ", 1)[1])
        finally:
            run(["docker", "rm", "-f", reader], check=False)
        assert summary["errors"] == 0, summary
        assert {NIGHT_A.isoformat(), NIGHT_B.isoformat()} <= set(summary["days"]), summary
        log(f"reader loop through the publish: {summary['queries']} queries, {summary['errors']} errors, "
            f"nights seen {summary['days']}")
        published_files(stack)
        days, rows = stack.superset_national_days()
        assert max(days) == NIGHT_B.isoformat(), days
        log(f"Superset after night B's publish: {rows} rows, new operating day {max(days)} (same server, no restart)")

        # -- night C: the writer worker killed in the middle of build_core --------------------------
        [writer] = stack.service_containers("airflow-worker-writer")
        restarts_before = writer["RestartCount"]
        t = time.monotonic()
        run_c = stack.trigger(NIGHT_C)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not any(ti["task_id"] == "build_staging" and ti["state"] == "success"
                      for ti in stack.task_instances(run_c)):
            assert time.monotonic() < deadline, "build_staging did not succeed"
            time.sleep(0.2)
        # build_core is the next task to take the state's writer lock (the host sees the same
        # file): the first time the lock is held, build_core is at work; kill its worker then
        lock_fd = os.open(stack.state_dir / "writer.lock", os.O_RDONLY)
        try:
            while True:
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
                except BlockingIOError:
                    break
                assert time.monotonic() < deadline, "build_core never took the writer lock"
                time.sleep(0.005)
            # SIGKILL of the container's init from the host: a crash (`docker kill` counts as a
            # manual stop, which the restart policy leaves stopped)
            os.kill(writer["State"]["Pid"], signal.SIGKILL)
        finally:
            os.close(lock_fd)
        [core_ti] = [ti for ti in stack.task_instances(run_c) if ti["task_id"] == "build_core"]
        assert core_ti["state"] == "running", core_ti
        log(f"night C {NIGHT_C}: writer container killed (SIGKILL of its init) while build_core held the state lock")
        state = stack.wait_run(run_c)["state"]
        tis = stack.task_instances(run_c)
        assert state == "success", [(ti["task_id"], ti["state"]) for ti in tis]
        status, tries = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_c}/taskInstances/build_core/tries")
        assert status == 200, tries
        states = [(tr["try_number"], tr["state"]) for tr in tries["task_instances"]]
        assert len(states) >= 2 and states[-1][1] == "success" and states[0][1] != "success", states
        [writer] = stack.service_containers("airflow-worker-writer")
        assert writer["RestartCount"] > restarts_before and writer["State"]["Status"] == "running", writer["State"]
        log(f"night C (REST API trigger, run {run_c}): {state} in {time.monotonic() - t:.0f}s; build_core tries "
            f"{states}; writer restarted by docker ({writer['RestartCount']} restart)")
        published_files(stack)

        # the same nights without interruption: `clearcap run` in a container of the same image, on
        # the same mount paths (reader error messages quote the file's path)
        ref_dir = work / "reference"
        ref_dir.mkdir()
        os.chown(ref_dir, 50000, 0)
        run(["docker", "run", "--rm", "--network", "none", "--user", "50000:0", "-v", f"{stack.landing}:/data/landing:ro",
             "-v", f"{ref_dir}:/data/warehouse", "--entrypoint", "clearcap", image, "run", "--landing", "/data/landing",
             "--warehouse", "/data/warehouse/warehouse.duckdb", "--date", NIGHT_A.isoformat(),
             "--to", NIGHT_C.isoformat()], timeout=900)
        # quality_daily.observed_value quotes GX's sample of failing row ids, which follow the scan
        # order of the night's files (differs between two uninterrupted runs too); rows_failed stays
        drop = ("loaded_at", "first_seen_at", "file_id", "superseded_by", "observed_value")
        got = snapshot(stack.warehouse_dir / "warehouse.duckdb", drop=drop)
        want = snapshot(ref_dir / "warehouse.duckdb", drop=drop)
        differences = diff(want, got)
        if differences or got.keys() != want.keys():  # keep both for inspection (CI artifacts)
            shutil.copy2(stack.warehouse_dir / "warehouse.duckdb", out / "warehouse-killed-night.duckdb")
            shutil.copy2(ref_dir / "warehouse.duckdb", out / "warehouse-uninterrupted.duckdb")
            (out / "warehouse-diff.txt").write_text(pprint.pformat(differences, width=160))
        assert got.keys() == want.keys() and not differences, (
            f"published warehouse differs from an uninterrupted run in {sorted(differences)}; "
            f"see {out / 'warehouse-diff.txt'} and the two warehouses beside it")
        log(f"published warehouse after the killed night equals an uninterrupted run: {len(got)} mart tables, "
            f"{sum(len(v) for v in got.values())} rows")

        # -- no secret in any log ----------------------------------------------------------------
        text = stack.compose("logs", "--no-color", check=False).stdout
        assert text and not [k for k, v in stack.secrets.items() if v in text]
        leaked = stack.compose("exec", "-T", "airflow-scheduler", "sh", "-c",
                               "grep -rlF -f /dev/stdin /opt/airflow/logs || true",
                               stdin="\n".join(stack.secrets.values()) + "\n").stdout.split()
        assert not leaked, leaked
        log(f"no secret in the compose logs ({len(text)} chars) nor in the task logs")
        ok = True
    finally:
        if not ok:
            (out / "compose.log").write_text(stack.redacted_logs())
            log(f"FAILED: compose logs (secrets redacted) in {out / 'compose.log'}")
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False, timeout=300)
        log("stack torn down (containers, networks, volumes)")
