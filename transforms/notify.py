"""Alerts notifier: after publish, the rows of `mart.alerts` of the run go to a webhook and by
e-mail; a failed run notifies too.

Both channels are Airflow connections and each is off when its connection is not configured
(environment `AIRFLOW_CONN_<ID>`, a secrets backend, or the metadata database):

* `clearcap_alerts_webhook` - HTTP(S) POST of one JSON document per notification.
  URI form: `AIRFLOW_CONN_CLEARCAP_ALERTS_WEBHOOK='http://hooks.example.org:8443/clearcap'`
  (conn type http|https; host, port, path; login/password -> basic auth). Extras (JSON form):
  `url` (overrides everything), `headers` (dict), `timeout` (s, default 10), `verify` (bool).
* `clearcap_alerts_smtp` - e-mail through the SMTP provider's SmtpHook. Extras: `to`
  (comma-separated, required), `from_email` (required), `disable_ssl` / `disable_tls`,
  `timeout`, `retry_limit` (see apache-airflow-providers-smtp).

Payload (webhook JSON; the e-mail shows the same as a table):
  {"source": "clearcap", "event": "published"|"failed", "dag_id", "run_id", "operating_day",
   "warehouse", "alerts": [{as_of_date, severity, office_code, kind, value, threshold,
   message_zh, message_en, direction, state, first_fired}], "counts": {"critical": n,
   "warning": n, "info": n (resolved rows)}, "states": {"new": n, "escalated": n,
   "continuing": n, "resolved": n},
   "failed_tasks": [...], "reason": str|None}

Used by dags/clearance_nightly.py as the `publish` task's on_success_callback (runs on the
worker that published, right after the warehouse was replaced) and the DAG's
on_failure_callback (runs in the dag-processor). Delivery errors are logged by Airflow and do
not fail the run; `deliver()` raises them when called directly.

Nothing heavy at import (the DAG imports this module only inside its callbacks)."""
from __future__ import annotations

import html
import json
import logging
from datetime import date
from typing import Any, Mapping

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

WEBHOOK_CONN_ID = "clearcap_alerts_webhook"
SMTP_CONN_ID = "clearcap_alerts_smtp"
ALERT_COLUMNS = ("as_of_date", "severity", "office_code", "kind", "value", "threshold",
                 "message_zh", "message_en", "direction", "state", "first_fired")


# -- connections ------------------------------------------------------------------------------

def get_connection(conn_id: str | None):
    """The Airflow connection, or None when it is not configured (the channel is off)."""
    if not conn_id:
        return None
    import os

    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", None) == "":
        return None  # set but empty (docker-compose passes unset settings as ""): off
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _extra(conn) -> dict:
    try:
        return dict(conn.extra_dejson or {})
    except Exception:  # noqa: BLE001 - malformed extra: treat as empty
        return {}


def webhook_url(conn) -> str:
    """URL of a webhook connection: extra `url`, else scheme://host[:port]/path (the URI's path
    lands in `schema`; a schema of `http`/`https` is taken as the scheme, like HttpHook)."""
    extra = _extra(conn)
    if extra.get("url"):
        return str(extra["url"])
    scheme, path = "http", ""
    conn_type = (conn.conn_type or "http").lower()
    if conn_type in ("http", "https"):
        scheme = conn_type
    if conn.schema in ("http", "https"):
        scheme = conn.schema
    elif conn.schema:
        path = conn.schema
    host = conn.host or ""
    if "://" in host:  # host given as a full URL (UI form)
        base = host.rstrip("/")
    else:
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    path = extra.get("endpoint", path) or ""
    return base + ("/" + path.lstrip("/") if path else "")


# -- payload ----------------------------------------------------------------------------------

def published_alerts(warehouse: str, day: date | str) -> list[dict]:
    """Rows of mart.alerts raised by the run for `day` (what changed since the previous
    published night first, critical first), from the published warehouse (opened read-only)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM mart.alerts WHERE as_of_date = ?::DATE "
            "ORDER BY state = 'continuing', severity = 'critical' DESC, kind, office_code NULLS LAST",
            [str(day)]).fetchall()
    finally:
        con.close()
    out = []
    for row in rows:
        rec = dict(zip(ALERT_COLUMNS, row))
        rec["as_of_date"] = str(rec["as_of_date"])
        rec["first_fired"] = None if rec["first_fired"] is None else str(rec["first_fired"])
        out.append(rec)
    return out


def build_payload(event: str, context: Mapping[str, Any]) -> dict:
    """Notification document of a run from an Airflow callback context."""
    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
    payload: dict[str, Any] = {"source": "clearcap", "event": event, "dag_id": dag_id, "run_id": run_id,
                               "operating_day": None, "warehouse": None, "alerts": [],
                               "counts": {"critical": 0, "warning": 0}, "states": {},
                               "failed_tasks": [],
                               "reason": context.get("reason")}
    try:
        from transforms.orchestration.runtime import run_args

        paths, day = run_args(context)
        payload["operating_day"] = day.isoformat()
        payload["warehouse"] = str(paths.warehouse)
    except Exception as exc:  # noqa: BLE001 - a failure notice must go out even without a context
        log.warning("clearcap notify: cannot resolve the run's operating day: %s", exc)
    if event == "published" and payload["warehouse"]:
        payload["alerts"] = published_alerts(payload["warehouse"], payload["operating_day"])
    for a in payload["alerts"]:
        payload["counts"][a["severity"]] = payload["counts"].get(a["severity"], 0) + 1
        payload["states"][a["state"]] = payload["states"].get(a["state"], 0) + 1
    if event == "failed":
        payload["failed_tasks"] = _failed_tasks(context)
    return payload


def _failed_tasks(context: Mapping[str, Any]) -> list[str]:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    names: list[str] = []
    try:
        if dag_run is not None and hasattr(dag_run, "get_task_instances"):
            names = sorted({t.task_id for t in dag_run.get_task_instances(state=["failed"])})
    except Exception:  # noqa: BLE001 - the SDK's DagRun has no DB access; fall back to the last TI
        names = []
    if not names and ti is not None and getattr(ti, "task_id", None):
        names = [ti.task_id]
    return names


def render_subject(p: Mapping[str, Any]) -> str:
    day = p.get("operating_day") or "?"
    if p["event"] == "failed":
        return f"[clearcap] FAILED nightly run for {day} ({', '.join(p['failed_tasks']) or 'see Airflow'})"
    from transforms.alert_digest import leading

    lead = leading(p["alerts"])
    critical = sum(a["severity"] == "critical" for a in lead)
    cont = (p.get("states") or {}).get("continuing", 0)
    return (f"[clearcap] {day}: {len(lead)} new/escalated/resolved alert(s), {critical} critical, "
            f"{cont} continuing / {day} 新增、升级、解除预警 {len(lead)} 条，持续 {cont} 条")


def render_html(p: Mapping[str, Any]) -> str:
    esc = html.escape
    head = (f"<p>clearcap {esc(str(p['dag_id']))} run <code>{esc(str(p['run_id']))}</code>, "
            f"operating day {esc(str(p.get('operating_day')))}: <b>{esc(p['event'])}</b></p>")
    if p["event"] == "failed":
        return head + (f"<p>Failed task(s): {esc(', '.join(p['failed_tasks']) or '-')}<br>"
                       f"Reason: {esc(str(p.get('reason') or '-'))}</p>"
                       "<p>The previously published warehouse is unchanged.</p>")
    from transforms.alert_digest import continuing, leading

    rows = "".join(
        "<tr>" + "".join(f"<td>{esc('' if a.get(c) is None else str(a[c]))}</td>"
                         for c in ("state", "severity", "office_code", "kind", "value", "message_zh",
                                   "message_en"))
        + "</tr>" for a in leading(p["alerts"]))
    cont = "".join(f"<li>{esc(k.line())}</li>" for k in continuing(p["alerts"]))
    return head + (f"<p>Warehouse: {esc(str(p.get('warehouse')))}</p>"
                   "<p>Changed since the previous published night 与上一期相比的变化:</p>"
                   "<table border='1' cellpadding='3'><tr><th>state</th><th>severity</th><th>office</th>"
                   f"<th>kind</th><th>value</th><th>消息</th><th>message</th></tr>{rows}</table>"
                   f"<p>Continuing, one line per kind 持续告警（按类型）:</p><ul>{cont or '<li>none 无</li>'}</ul>")


# -- delivery ---------------------------------------------------------------------------------

def send_webhook(conn, payload: Mapping[str, Any]) -> int:
    import httpx

    extra = _extra(conn)
    headers = {"Content-Type": "application/json", **(extra.get("headers") or {})}
    auth = (conn.login, conn.password or "") if conn.login else None
    resp = httpx.post(webhook_url(conn), content=json.dumps(payload, ensure_ascii=False, default=str).encode(),
                      headers=headers, auth=auth, timeout=float(extra.get("timeout", 10)),
                      verify=bool(extra.get("verify", True)))
    resp.raise_for_status()
    return resp.status_code


def send_email(conn_id: str, payload: Mapping[str, Any], to: str | list[str] | None = None) -> list[str]:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn = get_connection(conn_id)
    recipients = to or _extra(conn).get("to")
    if not recipients:
        raise ValueError(f"connection {conn_id} has no recipients: set extra 'to'")
    if isinstance(recipients, str):
        recipients = [r.strip() for r in recipients.replace(";", ",").split(",") if r.strip()]
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=recipients, subject=render_subject(payload), html_content=render_html(payload),
                             mime_subtype="alternative")
    return list(recipients)


def deliver(payload: Mapping[str, Any], webhook_conn_id: str | None = WEBHOOK_CONN_ID,
            smtp_conn_id: str | None = SMTP_CONN_ID, send_empty: bool = False) -> dict[str, Any]:
    """Send to every configured channel. Returns {channel: result or 'off' / 'nothing to send'};
    raises the first delivery error after trying every channel."""
    result: dict[str, Any] = {}
    if payload["event"] == "published" and not payload["alerts"] and not send_empty:
        return {"webhook": "nothing to send", "email": "nothing to send"}
    errors: list[BaseException] = []
    conn = get_connection(webhook_conn_id)
    if conn is None:
        result["webhook"] = "off"
    else:
        try:
            result["webhook"] = send_webhook(conn, payload)
        except Exception as exc:  # noqa: BLE001 - try e-mail too, then raise
            errors.append(exc)
            result["webhook"] = f"error: {exc}"
    if get_connection(smtp_conn_id) is None:
        result["email"] = "off"
    else:
        try:
            result["email"] = send_email(smtp_conn_id, payload)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
            result["email"] = f"error: {exc}"
    log.info("clearcap notify %s %s: %s", payload["event"], payload.get("operating_day"), result)
    if errors:
        raise errors[0]
    return result


class AlertsNotifier(BaseNotifier):
    """Airflow notifier: `event="published"` sends the run's mart.alerts rows (nothing when
    there are none unless send_empty), `event="failed"` sends a failure notice."""

    template_fields = ("webhook_conn_id", "smtp_conn_id")

    def __init__(self, event: str = "published", *, webhook_conn_id: str | None = WEBHOOK_CONN_ID,
                 smtp_conn_id: str | None = SMTP_CONN_ID, send_empty: bool = False):
        super().__init__()
        if event not in ("published", "failed"):
            raise ValueError(f"event must be 'published' or 'failed', not {event!r}")
        self.event = event
        self.webhook_conn_id = webhook_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.send_empty = send_empty

    def notify(self, context) -> None:
        deliver(build_payload(self.event, context), self.webhook_conn_id, self.smtp_conn_id, self.send_empty)


def on_published(context) -> None:
    """on_success_callback of the publish task."""
    AlertsNotifier("published")(context)


def on_failed(context) -> None:
    """on_failure_callback of the DAG (and usable on tasks)."""
    AlertsNotifier("failed")(context)
