"""Alerts notifier (transforms.notify): webhook and e-mail via Airflow connections given as
AIRFLOW_CONN_* environment variables, both off when not configured; a published run sends its
mart.alerts rows, a failed run sends a failure notice. Local receivers on 127.0.0.1 only: an
HTTP server and a minimal SMTP server (below). Airflow runs in child processes (airflow_env)."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import sys
import textwrap
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from transforms.orchestration import airflow_env

DAY = date(2026, 3, 2)


class HttpReceiver:
    """Webhook receiver: records POST bodies (str), answers 200."""

    def __init__(self, status: int = 200):
        self.received: list[str] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                outer.received.append(body)
                outer.headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clearcap"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """Minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) on
    127.0.0.1; records (mail_from, rcpt_tos, message bytes)."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket):
        f = conn.makefile("rb")
        send = lambda line: conn.sendall(line.encode() + b"\r\n")  # noqa: E731
        send("220 127.0.0.1 clearcap-test ESMTP")
        mail_from, rcpts = "", []
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").strip()
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    send("250-127.0.0.1")
                    send("250 8BITMIME")
                elif verb == "HELO":
                    send("250 127.0.0.1")
                elif verb == "MAIL":
                    mail_from, rcpts = cmd.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                    send("250 OK")
                elif verb == "RCPT":
                    rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                    send("250 OK")
                elif verb == "DATA":
                    send("354 end with <CRLF>.<CRLF>")
                    data = []
                    while True:
                        dl = f.readline()
                        if dl in (b".\r\n", b".\n", b""):
                            break
                        data.append(dl[1:] if dl.startswith(b"..") else dl)
                    self.messages.append((mail_from, rcpts, b"".join(data)))
                    send("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    send("250 OK")
                elif verb == "QUIT":
                    send("221 bye")
                    return
                else:
                    send("502 not implemented")
        finally:
            f.close()
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.sock.close()

    def conn_uri(self, to: str = "ops@example.org", from_email: str = "clearcap@example.org") -> str:
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "from_email": from_email,
                                     "to": to, "retry_limit": 0, "timeout": 10}})


def _bodies(msg_bytes: bytes) -> str:
    msg = email.message_from_bytes(msg_bytes, policy=email.policy.default)
    parts = [p.get_content() for p in msg.walk() if p.get_content_type() in ("text/html", "text/plain")]
    return str(msg["Subject"]) + "\n" + "\n".join(parts)


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory):
    from transforms import demo
    landing = tmp_path_factory.mktemp("notify") / "landing"
    demo.generate(landing, start=DAY, days=2, scale=0.02)
    return landing


# -- notifier in an Airflow-configured child process, no DAG run ------------------------------

CHILD = textwrap.dedent(r"""
    import json, sys
    from transforms import notify
    ctx = {"params": {"landing": sys.argv[1], "warehouse": sys.argv[2], "operating_day": sys.argv[3]},
           "run_id": "manual__test", "dag": None, "logical_date": None}
    out = {"url": None}
    conn = notify.get_connection(notify.WEBHOOK_CONN_ID)
    if conn is not None:
        out["url"] = notify.webhook_url(conn)
    for event in ("published", "failed"):
        p = notify.build_payload(event, ctx)
        out[event] = {"payload": p, "result": notify.deliver(p, send_empty=True)}
    print("CHILD" + json.dumps(out, default=str))
""")


def _child(env, landing, warehouse):
    proc = subprocess.run([sys.executable, "-c", CHILD, str(landing), str(warehouse), DAY.isoformat()],
                          env=env, cwd=env["AIRFLOW_HOME"], capture_output=True, text=True, timeout=120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[len("CHILD"):])


def test_channels_off_without_connections_and_on_with_them(tmp_path, demo_landing, clearcap_run):
    warehouse = tmp_path / "warehouse.duckdb"
    clearcap_run(demo_landing, warehouse, DAY)
    env = airflow_env(tmp_path / "airflow", demo_landing, warehouse)
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}

    off = _child(env, demo_landing, warehouse)
    assert off["published"]["result"] == {"webhook": "off", "email": "off"}
    assert off["failed"]["result"] == {"webhook": "off", "email": "off"}
    payload = off["published"]["payload"]
    assert payload["operating_day"] == DAY.isoformat() and payload["warehouse"] == str(warehouse)
    assert all(a["as_of_date"] == DAY.isoformat() for a in payload["alerts"])

    with HttpReceiver() as hook, SmtpReceiver() as smtp:
        env_on = dict(env, AIRFLOW_CONN_CLEARCAP_ALERTS_WEBHOOK=hook.url,
                      AIRFLOW_CONN_CLEARCAP_ALERTS_SMTP=smtp.conn_uri(to="ops@example.org, duty@example.org"))
        on = _child(env_on, demo_landing, warehouse)
    assert on["url"] == hook.url
    assert on["published"]["result"]["webhook"] == 200
    assert on["published"]["result"]["email"] == ["ops@example.org", "duty@example.org"]
    got = [json.loads(b) for b in hook.received]
    assert [g["event"] for g in got] == ["published", "failed"]
    assert got[0]["alerts"] == on["published"]["payload"]["alerts"]
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert len(smtp.messages) == 2
    sender, rcpts, raw = smtp.messages[0]
    assert sender == "clearcap@example.org" and rcpts == ["ops@example.org", "duty@example.org"]
    text = _bodies(raw)
    assert DAY.isoformat() in text and "alert" in text
    for a in got[0]["alerts"][:3]:
        assert a["kind"] in text
    assert "FAILED" in _bodies(smtp.messages[1][2])


def test_webhook_url_forms(tmp_path):
    code = textwrap.dedent("""
        import json
        from airflow.sdk import Connection
        from transforms.notify import webhook_url
        cases = [Connection.from_uri("http://127.0.0.1:9000/hooks/x", conn_id="a"),
                 Connection.from_uri("https://hooks.example.org/api/alerts", conn_id="b"),
                 Connection(conn_id="c", conn_type="http", host="example.org", schema="https", port=8443,
                            extra=json.dumps({"endpoint": "in/clearcap"})),
                 Connection(conn_id="d", conn_type="http", extra=json.dumps({"url": "http://x.test/y"}))]
        print("URLS" + json.dumps([webhook_url(c) for c in cases]))
    """)
    env = airflow_env(tmp_path / "airflow", tmp_path / "landing", tmp_path / "w.duckdb")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("URLS")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads(line[4:]) == ["http://127.0.0.1:9000/hooks/x", "https://hooks.example.org/api/alerts",
                                    "https://example.org:8443/in/clearcap", "http://x.test/y"]


# -- the DAG's callbacks (parsed by Airflow's DagBag, no run) ----------------------------------

def test_the_dag_wires_the_failure_and_publish_notifiers(tmp_path, demo_landing):
    """A published run notifies through the publish task's on_success_callback (its delivery in a
    real Airflow run: tests/test_airflow_run.py) and a failed run through the DAG's
    on_failure_callback, run by the dag-processor (its delivery is checked in
    test_channels_off_without_connections_and_on_with_them)."""
    env = airflow_env(tmp_path / "airflow", demo_landing, tmp_path / "out" / "warehouse.duckdb")
    code = ("import sys; from airflow.dag_processing.dagbag import DagBag; "
            "d = DagBag(dag_folder=sys.argv[1]).dags['clearance_nightly']; "
            "cb = d.on_failure_callback; cb = cb[0] if isinstance(cb, list) else cb; "
            "pc = d.get_task('publish').on_success_callback; pc = pc[0] if isinstance(pc, list) else pc; "
            "print('CB', cb.__name__, pc.__name__)")
    from transforms.orchestration import DAGS_FOLDER

    proc = subprocess.run([sys.executable, "-c", code, str(DAGS_FOLDER)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "CB _notify_failed _notify_published" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
