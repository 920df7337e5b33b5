"""The dashboard in a real browser: headless Debian Chromium driven over the DevTools protocol.

Asserts: no console errors or exceptions, no network request other than the file itself, every
chart drawn with data (SVG marks), a filter change redraws charts, "no data" for an absent
optional table; saves screenshots under tests/output/. The warehouse is one the real pipeline
published for a tiny seeded demo landing zone (``make_pipeline_warehouse``, 2026-01-31 .. 03-01):
the expected figures are read from it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from transforms.dashboard import build_dashboard, load_dashboard_data
from transforms.dashboard.sample import make_pipeline_warehouse

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "output"
CHROMIUM = "/usr/bin/chromium"
CHARTS = ["trend", "heatmap", "dwell", "stay", "stay-trend", "capacity", "lanes", "destinations",
          "centres", "missing", "quarantined"]


def _ensure_chromium() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    script = ROOT / "scripts" / "install_chromium.sh"
    res = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=900)
    if res.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"chromium not installable here (install_chromium.sh rc={res.returncode}): "
                    f"{(res.stderr or res.stdout).strip()[-400:]}")
    return CHROMIUM


class CDP:
    """A minimal synchronous Chrome DevTools Protocol client (flattened target sessions)."""

    def __init__(self, ws_url: str):
        from contextlib import ExitStack

        from websockets.sync.client import connect

        self._stack = ExitStack()
        self.ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=20))
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        msg: dict = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method} timed out")
            data = json.loads(self.ws.recv(timeout=left))
            if data.get("id") == msg_id:
                if "error" in data:
                    raise RuntimeError(f"CDP {method}: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self.events.append(data)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        for ev in self.events:
            if ev["method"] == method:
                return ev
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no CDP event {method}")
            data = json.loads(self.ws.recv(timeout=left))
            if "method" in data:
                self.events.append(data)
                if data["method"] == method:
                    return data

    def close(self) -> None:
        self._stack.close()


class Page:
    def __init__(self, cdp: CDP, session: str):
        self.cdp, self.session = cdp, session

    def send(self, method, params=None, timeout=30.0):
        return self.cdp.send(method, params, session=self.session, timeout=timeout)

    def eval(self, expr: str):
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise AssertionError(f"page exception evaluating {expr!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def goto(self, url: str) -> None:
        self.cdp.events.clear()
        self.send("Page.navigate", {"url": url})
        self.cdp.wait_event("Page.loadEventFired", timeout=60)
        deadline = time.monotonic() + 30
        while not self.eval("document.body && document.body.getAttribute('data-rendered')"):
            if time.monotonic() > deadline:
                raise AssertionError("dashboard never rendered")
            time.sleep(0.1)

    def errors(self) -> list[str]:
        out = []
        for ev in self.cdp.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                   for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails"))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [ev["params"]["request"]["url"] for ev in self.cdp.events
                if ev["method"] == "Network.requestWillBeSent"]

    def marks(self) -> dict:
        return self.eval("""(() => { const out = {};
            document.querySelectorAll('svg[data-chart]').forEach(s => {
              const k = s.getAttribute('data-chart');
              out[k] = (out[k] || 0) + s.querySelectorAll('.mark').length; });
            return out; })()""")

    def screenshot(self, path: Path, full: bool = True) -> None:
        if full:
            h = self.eval("Math.ceil(document.documentElement.scrollHeight)")
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1440, "height": min(int(h), 12000), "deviceScaleFactor": 1,
                       "mobile": False})
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full},
                         timeout=60)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": False})


@pytest.fixture(scope="module")
def browser():
    exe = _ensure_chromium()
    profile = Path(tempfile.mkdtemp(prefix="clearcap-chromium-"))
    log = open(profile.parent / (profile.name + ".log"), "wb")
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # belt and braces: nothing resolves
         f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--window-size=1440,1000", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cdp = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None:
                log.flush()
                text = Path(log.name).read_text(errors="replace")[-2000:]
                pytest.fail(f"chromium exited rc={proc.returncode}: {text}")
            if time.monotonic() > deadline:
                pytest.fail("chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        cdp = CDP(f"ws://127.0.0.1:{port}{path}")
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(cdp, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        yield page
    finally:
        if cdp is not None:
            try:
                cdp.send("Browser.close", timeout=5)
            except Exception:
                pass
            try:
                cdp.close()
            except Exception:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
        Path(log.name).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dash")
    wh = make_pipeline_warehouse(d / "warehouse.duckdb")
    return build_dashboard(wh, d / "dashboard.html")


def warehouse_of(page: Path) -> Path:
    return page.with_name("warehouse.duckdb")


def query(warehouse: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def heatmap_cells(warehouse: Path, since: str = "0001-01-01", office: str | None = None) -> int:
    """Office-days of mart.office_daily from ``since`` on: one heatmap cell each."""
    sql = "SELECT count(DISTINCT (office_code, report_date)) FROM mart.office_daily WHERE report_date >= ?::DATE"
    if office is not None:
        return query(warehouse, sql + " AND office_code = ?", since, office)[0][0]
    return query(warehouse, sql, since)[0][0]


STAY_STEPS = ["to_customs_p50_h", "customs_p50_h", "after_release_p50_h"]
STEP_WORD = {"to_customs_p50_h": "arrival", "customs_p50_h": "presented", "after_release_p50_h": "released"}


def stay_by_step(warehouse: Path) -> dict[str, dict[str, float]]:
    """office|direction -> step -> daily medians weighted by items (the page's "stay by step"),
    from the data the page embeds."""
    od = load_dashboard_data(warehouse)["office_stay_daily"]
    rows = [dict(zip(od["columns"], r)) for r in od["rows"] if r[od["columns"].index("scope")] == "office"]
    out: dict[str, dict[str, float]] = {}
    for key in sorted({f"{r['office_code']}|{r['direction']}" for r in rows}):
        rs = [r for r in rows if f"{r['office_code']}|{r['direction']}" == key]
        vals = {}
        for step in STAY_STEPS:
            w = sum(r["n_items"] for r in rs if r[step] is not None)
            vals[step] = sum(r[step] * r["n_items"] for r in rs if r[step] is not None) / w if w else None
        out[key] = vals
    return out


def test_dashboard_renders_offline_with_data(browser: Page, dashboard: Path):
    url = dashboard.as_uri()
    browser.goto(url)
    assert browser.errors() == []
    reqs = browser.requests()
    # data: URLs are Chromium's own (e.g. the date input's calendar icon), not network.
    assert reqs and reqs[0] == url, reqs
    network = [r for r in reqs if r != url and not r.startswith("data:")]
    assert network == [], f"unexpected requests: {network}"

    marks = browser.marks()
    for chart in CHARTS:
        assert marks.get(chart, 0) > 0, f"chart {chart} has no marks: {marks}"
    wh = warehouse_of(dashboard)
    # every office-day of office_daily in the heatmap (20 offices x 30 days)
    assert marks["heatmap"] == heatmap_cells(wh) > 0
    latest = query(wh, "SELECT direction, items_received, items_dispatched FROM mart.national_daily "
                   "WHERE report_date = (SELECT max(report_date) FROM mart.national_daily) ORDER BY 1")
    assert browser.eval("document.querySelectorAll('#headline .card').length") == len(latest)
    text = browser.eval("document.body.innerText")
    for label in ("全国概况", "National headline", "产能展望", "Capacity outlook", "数据质量",
                  "Data quality"):
        assert label in text
    assert "渲染失败" not in text
    # the headline shows the latest national figures as published
    cards = browser.eval("Object.fromEntries(Array.from(document.querySelectorAll('#headline .card'))"
                         ".map(c => [c.getAttribute('data-direction'), c.innerText]))")
    for direction, received, dispatched in latest:
        assert received is not None and dispatched is not None
        assert f"{round(received):,}" in cards[direction] and f"{round(dispatched):,}" in cards[direction], cards
    # every office of the warehouse is offered in the office filter
    offered = browser.eval("Array.from(document.querySelectorAll('#f-office option')).map(o => o.value)")
    assert {r[0] for r in query(wh, "SELECT DISTINCT office_code FROM mart.office_daily")} <= set(offered)
    # the stay by step: the stacked steps per office and direction, each one's bottleneck named
    stay = stay_by_step(wh)
    assert marks["stay"] == sum(1 for v in stay.values() for x in v.values() if x is not None and x > 0) > 0
    bottlenecks = browser.eval("Array.from(document.querySelectorAll('#stay .bottleneck'))"
                               ".map(e => e.getAttribute('data-office') + ':' + e.textContent.split('bottleneck: ')[1])")
    assert [b.split(":")[0] for b in bottlenecks] == [k.split("|")[0] for k in stay]
    checked = 0
    for (key, vals), b in zip(stay.items(), bottlenecks):
        ranked = sorted((x, step) for step, x in vals.items() if x is not None)
        if len(ranked) > 1 and ranked[-1][0] > 1.01 * ranked[-2][0]:  # a clear bottleneck
            assert b.split(":")[1].split(" ")[1] == STEP_WORD[ranked[-1][1]], (key, vals, b)
            checked += 1
    assert checked > len(stay) // 2
    assert len({b.split(":")[1].split(" ")[1] for b in bottlenecks}) > 1  # not one step everywhere
    national = query(wh, "SELECT count(*) FROM mart.office_stay_daily WHERE scope = 'national' "
                     "AND stay_p90_h IS NOT NULL")[0][0]
    assert marks["stay-trend"] == national > 0      # national total-stay p90, both directions
    # alerts lead with what changed since the previous night (one night: all new), by severity;
    # continuing ones one line per kind (test_alert_states_order_the_table: the states' order)
    alerts = query(wh, "SELECT state, severity, kind FROM mart.alerts "
                   "WHERE as_of_date = (SELECT max(as_of_date) FROM mart.alerts)")
    rank = {"critical": 0, "error": 1, "warning": 2, "info": 3}
    label = {"new": "新 new", "escalated": "升级 escalated", "resolved": "解除 resolved"}
    srank = {v: i for i, v in enumerate(label.values())}
    srank["升级 escalated"], srank["新 new"] = 0, 1
    rows = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts] tbody tr'))"
                        ".map(r => [r.cells[0].textContent, r.cells[1].textContent, r.cells[3].textContent])")
    lead = [a for a in alerts if a[0] != "continuing"]
    assert lead and len(rows) == len(lead)
    assert sorted(rows) == sorted([label[a[0] or "new"], a[1], a[2]] for a in lead)
    order = [(srank[r[0]], rank[r[1]]) for r in rows]
    assert order == sorted(order)
    cont = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts-continuing] tbody tr'))"
                        ".map(r => r.cells[0].textContent + '=' + r.cells[1].textContent)")
    assert sorted(cont) == sorted(f"{k}={n}" for k, n in query(
        wh, "SELECT kind, count(*) FROM mart.alerts WHERE state = 'continuing' AND as_of_date = "
        "(SELECT max(as_of_date) FROM mart.alerts) GROUP BY 1"))
    # the failed-expectations table shows each check's name and observed value (issue 13, finding 11),
    # as published in mart.quality_daily
    cells = browser.eval("""Array.from(document.querySelectorAll('#quality table[data-table=failed-expectations] tbody tr'))
        .map(tr => Array.from(tr.cells).map(td => td.innerText))""")

    def js(v):  # JSON.stringify writes 100.0 as 100
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: js(x) for k, x in v.items()}
        return [js(x) for x in v] if isinstance(v, list) else v

    def shown(observed: str) -> str:
        text = json.dumps(js(json.loads(observed)), ensure_ascii=False, separators=(",", ":"))
        return text[:77] + "…" if len(text) > 80 else text

    failed = query(wh, "SELECT report_date::VARCHAR, feed, check_name, severity, observed_value, offices_missing "
                   "FROM mart.quality_daily WHERE NOT success")
    assert cells and sorted(cells) == sorted(
        [d, f, c, s, shown(o), ", ".join((m or "").split(",")) if m else "—"] for d, f, c, s, o, m in failed)
    assert any(row[4].startswith('{"element_count"') for row in cells), cells

    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.screenshot(OUTPUT / "dashboard_top.png", full=False)
    browser.screenshot(OUTPUT / "dashboard.png", full=True)
    assert (OUTPUT / "dashboard.png").stat().st_size > 20_000


def test_filters_update_charts(browser: Page, dashboard: Path):
    browser.goto(dashboard.as_uri())
    before = browser.marks()

    def set_value(elem_id: str, value: str):
        browser.eval(f"""(() => {{ const e = document.getElementById({json.dumps(elem_id)});
            e.value = {json.dumps(value)}; e.dispatchEvent(new Event('change')); }})()""")

    wh = warehouse_of(dashboard)
    set_value("f-office", "CNBJSA")
    after = browser.marks()
    assert after["heatmap"] == heatmap_cells(wh, office="CNBJSA") == 30
    assert before["heatmap"] == heatmap_cells(wh) > after["heatmap"]
    assert after["dwell"] < before["dwell"]
    assert browser.eval("document.querySelectorAll('#dwell svg[data-chart=dwell]').length") == 1
    assert "not a centre" in browser.eval("document.getElementById('centres').innerText")

    set_value("f-office", "")
    set_value("f-direction", "outbound")
    out = browser.marks()
    assert out["trend"] < before["trend"]
    assert browser.eval("document.querySelectorAll('#headline .card').length") == 1

    set_value("f-direction", "")
    set_value("f-from", "2026-02-20")
    ranged = browser.marks()
    assert ranged["heatmap"] == heatmap_cells(wh, "2026-02-20") == heatmap_cells(wh) // 3  # 10 of 30 days
    assert ranged["centres"] < before["centres"]
    browser.screenshot(OUTPUT / "dashboard_filtered.png", full=False)
    assert browser.errors() == []


def test_absent_optional_tables_say_no_data(browser: Page, tmp_path: Path):
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb",
                                 omit=("lane_weekly", "quarantine"), empty=("destination_monthly",))
    out = build_dashboard(wh, tmp_path / "d.html")
    browser.goto(out.as_uri())
    assert browser.errors() == []
    for section in ("lanes", "destinations"):
        assert "no data" in browser.eval(f"document.getElementById('{section}').innerText")
    marks = browser.marks()
    assert marks.get("heatmap", 0) > 0 and "lanes" not in marks


def test_alert_states_order_the_table(browser: Page, tmp_path: Path):
    """Escalated, then new, then resolved; continuing alerts one line per kind. One night publishes
    every alert as new: a copy of its warehouse gets the other states of a second night."""
    wh = make_pipeline_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(wh))
    kinds = con.execute("SELECT kind, count(*) FROM mart.alerts GROUP BY 1 HAVING count(*) >= 3 "
                        "ORDER BY 2 DESC, 1 LIMIT 1").fetchall()
    assert kinds, "the night published no kind of alert three times"
    kind = kinds[0][0]
    # of `kind`: two continuing, one escalated; of the rest: one resolved (the others stay new)
    con.execute("UPDATE mart.alerts SET state = 'continuing' WHERE rowid IN "
                "(SELECT rowid FROM mart.alerts WHERE kind = ? ORDER BY rowid LIMIT 2)", [kind])
    con.execute("UPDATE mart.alerts SET state = 'escalated' WHERE rowid = "
                "(SELECT max(rowid) FROM mart.alerts WHERE kind = ?)", [kind])
    con.execute("UPDATE mart.alerts SET state = 'resolved' WHERE rowid = "
                "(SELECT min(rowid) FROM mart.alerts WHERE kind <> ?)", [kind])
    n_new = con.execute("SELECT count(*) FROM mart.alerts WHERE state = 'new'").fetchone()[0]
    con.close()
    browser.goto(build_dashboard(wh, tmp_path / "d.html").as_uri())
    states = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts] tbody tr'))"
                          ".map(r => r.cells[0].textContent)")
    assert states == ["升级 escalated"] + ["新 new"] * n_new + ["解除 resolved"]
    cont = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts-continuing] tbody tr'))"
                        ".map(r => r.cells[0].textContent + '=' + r.cells[1].textContent)")
    assert cont == [f"{kind}=2"]
    assert browser.errors() == []


def test_older_months_load_on_demand(browser: Page, tmp_path: Path):
    """Issue 11: the page inlines the latest months; asked for an older day, it loads the months'
    period files beside it (from file://, no fetch) and draws them. The pipeline's 30 days
    (2026-01-31 .. 03-01) with a one-day window: March inline, January and February on demand."""
    wh = make_pipeline_warehouse(tmp_path / "warehouse.duckdb")
    out = build_dashboard(wh, tmp_path / "d.html", max_days=1)  # inline from 2026-03-01
    url = out.as_uri()
    browser.goto(url)
    assert browser.marks()["heatmap"] == heatmap_cells(wh, "2026-03-01") > 0
    assert [r for r in browser.requests() if not r.startswith("data:")] == [url]
    assert browser.eval("document.getElementById('f-from').min") == "2026-01-01"
    assert "on demand" in browser.eval("document.getElementById('meta').textContent")

    def period_files() -> list[str]:
        return sorted(r.split("?")[0].rsplit("/", 1)[1] for r in browser.requests()
                      if r.startswith(out.parent.as_uri() + "/d_data/"))

    def ask_from(day: str) -> None:
        browser.eval(f"""(() => {{ const e = document.getElementById('f-from');
            e.value = '{day}'; e.dispatchEvent(new Event('change')); }})()""")
        want = heatmap_cells(wh, day)
        deadline = time.monotonic() + 30
        while browser.marks().get("heatmap") != want:
            if time.monotonic() > deadline:
                raise AssertionError(f"older months never drawn: {browser.marks()} {browser.requests()}")
            time.sleep(0.1)

    ask_from("2026-02-15")
    assert period_files() == ["2026-02.js"]  # only the month asked for
    ask_from("2026-01-31")
    assert period_files() == ["2026-01.js", "2026-02.js"]
    assert heatmap_cells(wh, "2026-01-31") == heatmap_cells(wh)
    assert browser.errors() == []
    assert [r for r in browser.requests() if not r.startswith(("data:", out.parent.as_uri() + "/"))] == []
    # the days came from the period files: the national trend reaches back to 01-31
    first = browser.eval("window.clearcapDashboard.data.national_daily.rows.map(r => r[0]).sort()[0]")
    assert first == "2026-01-31"
    assert browser.eval("document.getElementById('periods-status').textContent") == ""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.screenshot(OUTPUT / "dashboard_older_months.png", full=False)
