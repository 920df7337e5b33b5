"""The dashboard in a real browser: headless Debian Chromium driven over the DevTools protocol.

Asserts: no console errors or exceptions, no network request other than the file itself, every
chart drawn with data (SVG marks), a filter change redraws charts, "no data" for an absent
optional table; saves screenshots under tests/output/.
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

import pytest

from transforms.dashboard import build_dashboard
from transforms.dashboard.sample import make_sample_warehouse

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
    wh = make_sample_warehouse(d / "warehouse.duckdb", days=30)
    return build_dashboard(wh, d / "dashboard.html")


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
    # 6 offices (incl. 2 centres in office_daily) x 30 days in the heatmap
    assert marks["heatmap"] == 6 * 30
    assert browser.eval("document.querySelectorAll('#headline .card').length") == 3
    text = browser.eval("document.body.innerText")
    for label in ("全国概况", "National headline", "产能展望", "Capacity outlook", "数据质量",
                  "Data quality", "CNCANA"):
        assert label in text
    assert "渲染失败" not in text
    # the stay by step: three stacked steps per office and direction, each office's bottleneck
    # named (the sample gives each office a different one)
    assert marks["stay"] == 4 * 2 * 3
    bottlenecks = browser.eval("Array.from(document.querySelectorAll('#stay .bottleneck'))"
                               ".map(e => e.getAttribute('data-office') + ':' + e.textContent.split('bottleneck: ')[1])")
    assert {b.split(":")[0]: b.split(":")[1].split(" ")[1] for b in bottlenecks} == {
        "CNBJSA": "presented", "CNSHAA": "released", "CNCANA": "arrival", "CNURCA": "presented"}
    assert marks["stay-trend"] == 2 * 30            # national total-stay p90, both directions
    # alerts lead with what changed since the previous night, continuing ones one line per kind
    states = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts] tbody tr'))"
                          ".map(r => r.cells[0].textContent)")
    assert states == ["升级 escalated", "新 new", "新 new", "解除 resolved"]
    cont = browser.eval("Array.from(document.querySelectorAll('table[data-table=alerts-continuing] tbody tr'))"
                        ".map(r => r.cells[0].textContent + '=' + r.cells[1].textContent)")
    assert cont == ["capacity_breach=2"]
    # the failed-expectations table shows each check's name and observed value (issue 13, finding 11)
    cells = browser.eval("""Array.from(document.querySelectorAll('#quality table[data-table=failed-expectations] tbody tr'))
        .map(tr => Array.from(tr.cells).map(td => td.innerText))""")
    assert cells and all(row[2] == "offices_complete" for row in cells), cells
    assert all(row[4].startswith('{"unexpected_count"') for row in cells), cells

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

    set_value("f-office", "CNBJSA")
    after = browser.marks()
    assert after["heatmap"] == 30 and before["heatmap"] == 180
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
    assert ranged["heatmap"] == 6 * 10
    assert ranged["centres"] < before["centres"]
    browser.screenshot(OUTPUT / "dashboard_filtered.png", full=False)
    assert browser.errors() == []


def test_absent_optional_tables_say_no_data(browser: Page, tmp_path: Path):
    wh = make_sample_warehouse(tmp_path / "w.duckdb", days=30,
                               omit=("lane_weekly", "quarantine"), empty=("destination_monthly",))
    out = build_dashboard(wh, tmp_path / "d.html")
    browser.goto(out.as_uri())
    assert browser.errors() == []
    for section in ("lanes", "destinations"):
        assert "no data" in browser.eval(f"document.getElementById('{section}').innerText")
    marks = browser.marks()
    assert marks.get("heatmap", 0) > 0 and "lanes" not in marks


def test_older_months_load_on_demand(browser: Page, tmp_path: Path):
    """Issue 11: the page inlines the latest months; asked for an older day, it loads the months'
    period files beside it (from file://, no fetch) and draws them."""
    wh = make_sample_warehouse(tmp_path / "w.duckdb", days=70)  # 2025-12-22 .. 2026-03-01
    out = build_dashboard(wh, tmp_path / "d.html", max_days=20)  # inline from 2026-02-01
    url = out.as_uri()
    browser.goto(url)
    assert browser.marks()["heatmap"] == 6 * 29
    assert [r for r in browser.requests() if not r.startswith("data:")] == [url]
    assert browser.eval("document.getElementById('f-from').min") == "2025-02-01"
    assert "on demand" in browser.eval("document.getElementById('meta').textContent")

    browser.eval("""(() => { const e = document.getElementById('f-from');
        e.value = '2025-12-25'; e.dispatchEvent(new Event('change')); })()""")
    deadline = time.monotonic() + 30
    while browser.marks().get("heatmap") != 6 * 67:  # 12-25 .. 03-01
        if time.monotonic() > deadline:
            raise AssertionError(f"older months never drawn: {browser.marks()} {browser.requests()}")
        time.sleep(0.1)
    assert browser.errors() == []
    loaded = sorted(r.split("?")[0].rsplit("/", 1)[1] for r in browser.requests()
                    if r.startswith(out.parent.as_uri() + "/d_data/"))
    assert loaded == ["2025-12.js", "2026-01.js"]  # only the months asked for
    assert [r for r in browser.requests() if not r.startswith(("data:", out.parent.as_uri() + "/"))] == []
    # the days came from the period files: the national trend reaches back to 12-25
    first = browser.eval("window.clearcapDashboard.data.national_daily.rows.map(r => r[0]).sort()[0]")
    assert first == "2025-12-22"
    assert browser.eval("document.getElementById('periods-status').textContent") == ""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.screenshot(OUTPUT / "dashboard_older_months.png", full=False)
