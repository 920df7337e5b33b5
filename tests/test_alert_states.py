"""mart.alerts across nights: the state of each alert against the previous published night
(new, escalated, continuing with its first-fired date, resolved), the stay_slow kind, and the
record of a published night never rewritten by a later run of it."""
from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from transforms import dbt_runner
from transforms.db import settings

N1, N2, N3 = date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 3)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A state whose mart tables dbt created (no rows), kept as `empty.duckdb`; each test gets
    a copy at the same path, so dbt's partial parse holds from one test to the next."""
    from pipeline_helpers import empty_state

    db = empty_state(tmp_path_factory.mktemp("alert_states"), N1)
    shutil.move(db, db.parent / "empty.duckdb")
    return db.parent


@pytest.fixture()
def con(work):
    shutil.copy(work / "empty.duckdb", work / "state.duckdb")
    c = duckdb.connect(str(work / "state.duckdb"))
    settings(c)
    yield c
    c.close()


def _insert(con, table: str, **row) -> None:
    con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()))


def _office(con, day, office, direction="inbound", utilization=0.5, load_factor=0.5, reported=True):
    _insert(con, "mart.office_daily", office_code=office, report_date=day, direction=direction,
            utilization=utilization if reported else None, load_factor=load_factor if reported else None,
            reported=reported)


def _dwell(con, day, office, share, direction="outbound", n_released=100):
    _insert(con, "mart.customs_dwell_daily", office_code=office, release_date=day, direction=direction,
            n_released=n_released, share_within_24h=share)


def _night(con, day, publish=True) -> dict:
    """Build the night's alerts as build_marts does (the dbt model, on the rows the test put in
    the marts it reads); publish records the night as published."""
    db = Path(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0])
    dbt_runner.invoke(db, db.parent / "dbt", day, ["run", "--select", "alerts"])
    if publish:
        con.execute("INSERT OR IGNORE INTO core.published_nights VALUES (?, now()::TIMESTAMP)", [day])
    rows = con.execute("""SELECT kind, office_code, direction, state, severity, first_fired, value,
                                 previous_severity, previous_value, message_en
                          FROM mart.alerts WHERE as_of_date = ?""", [day]).fetchall()
    return {(r[0], r[1], r[2]): dict(zip(["state", "severity", "first_fired", "value",
                                          "previous_severity", "previous_value", "message_en"], r[3:]))
            for r in rows if r[1] is not None} | {
        ("files", None, None): [r for r in rows if r[1] is None]}


def _three_nights(con):
    # night 1: Beijing dispatches at 0.9 of capacity, Shanghai receives at 0.9, Urumqi is missing,
    # a file is quarantined
    _office(con, N1, "CNBJSA", utilization=0.9)
    _office(con, N1, "CNSHAA", load_factor=0.9)
    _office(con, N1, "CNURCA", reported=False)
    _insert(con, "core.ledger", file_id=1, path="item_events/2027-03-01/bad.jsonl.gz", feed="item_events",
            content_hash="x", status="quarantined", message="truncated gzip", run_date=N1)
    n1 = _night(con, N1)
    # night 2: Beijing above capacity (critical), Shanghai unchanged, Urumqi reports again,
    # Guangzhou's customs slow
    _office(con, N2, "CNBJSA", utilization=1.1)
    _office(con, N2, "CNSHAA", load_factor=0.9)
    _office(con, N2, "CNURCA")
    _dwell(con, N2, "CNCANA", 0.70)
    n2 = _night(con, N2)
    # night 3: Beijing still above, Shanghai back to normal, Guangzhou slower (crosses 0.60)
    _office(con, N3, "CNBJSA", utilization=1.05)
    _office(con, N3, "CNSHAA", load_factor=0.5)
    _dwell(con, N3, "CNCANA", 0.55)
    n3 = _night(con, N3)
    return n1, n2, n3


def test_states_over_three_nights(con):
    n1, n2, n3 = _three_nights(con)
    bj, sh = ("utilization_high", "CNBJSA", "inbound"), ("load_factor_high", "CNSHAA", "inbound")
    ur, ca = ("report_missing", "CNURCA", None), ("customs_slow", "CNCANA", "outbound")
    assert {k: v["state"] for k, v in n1.items() if k[0] != "files"} == {bj: "new", sh: "new", ur: "new"}
    assert all(v["first_fired"] == N1 for k, v in n1.items() if k[0] != "files")
    assert [f[3] for f in n1[("files", None, None)]] == ["new"]
    # night 2: severity rose -> escalated; unchanged -> continuing since night 1; gone -> resolved
    assert {k: v["state"] for k, v in n2.items() if k[0] != "files"} == {
        bj: "escalated", sh: "continuing", ur: "resolved", ca: "new"}
    assert (n2[bj]["severity"], n2[bj]["previous_severity"], n2[bj]["previous_value"]) == ("critical", "warning", 0.9)
    assert n2[bj]["first_fired"] == N1 and n2[sh]["first_fired"] == N1 and n2[ca]["first_fired"] == N2
    assert n2[ur]["severity"] == "info" and n2[ur]["value"] is None and n2[ur]["first_fired"] == N1
    assert n2[ur]["message_en"].startswith("resolved: CNURCA")
    # a quarantined file is an event of its night, not a standing condition: never resolved
    assert n2[("files", None, None)] == []
    # night 3: still critical -> continuing since night 1; Shanghai resolved; Guangzhou's value
    # crossed a further threshold at the same severity -> escalated; Urumqi stays resolved
    assert {k: v["state"] for k, v in n3.items() if k[0] != "files"} == {
        bj: "continuing", sh: "resolved", ca: "escalated"}
    assert n3[bj]["first_fired"] == N1 and n3[sh]["first_fired"] == N1 and n3[ca]["first_fired"] == N2
    assert (n3[ca]["severity"], n3[ca]["previous_value"]) == ("warning", 0.70)


def test_states_against_the_previous_published_night(con):
    """An unpublished night (a run that stopped before publishing) is not what people read:
    the next night compares with the last published one."""
    _office(con, N1, "CNBJSA", utilization=0.9)
    _night(con, N1)
    _office(con, N2, "CNSHAA", load_factor=0.9)     # built, never published
    _night(con, N2, publish=False)
    _office(con, N3, "CNBJSA", utilization=0.9)
    n3 = _night(con, N3)
    assert n3[("utilization_high", "CNBJSA", "inbound")]["state"] == "continuing"
    assert n3[("utilization_high", "CNBJSA", "inbound")]["first_fired"] == N1


def test_published_night_is_never_rewritten(con):
    """A rerun of a published night with later data keeps what people were told that morning,
    whatever days the marts recompute; an unpublished night is still recomputed."""
    n1, n2, _n3 = _three_nights(con)
    before = con.execute("SELECT * FROM mart.alerts ORDER BY ALL").fetchall()
    # later data changes every input of night 2, then night 2 and night 1 run again
    con.execute("UPDATE mart.office_daily SET utilization = 0.2, load_factor = 0.2, reported = true")
    con.execute("DELETE FROM mart.customs_dwell_daily")
    _night(con, N2)
    _night(con, N1)
    assert con.execute("SELECT * FROM mart.alerts ORDER BY ALL").fetchall() == before
    # a night built but not published yet is recomputed by its rerun
    d4 = N3 + timedelta(days=1)
    _office(con, d4, "CNBJSA", utilization=0.95)
    assert _night(con, d4, publish=False)[("utilization_high", "CNBJSA", "inbound")]["state"] == "continuing"
    con.execute("UPDATE mart.office_daily SET utilization = 0.5 WHERE report_date = ?", [d4])
    assert _night(con, d4, publish=False)[("utilization_high", "CNBJSA", "inbound")]["state"] == "resolved"


def _stays(con, office, p90_by_day: dict, n: int = 60):
    for day, p90 in p90_by_day.items():
        _insert(con, "mart.office_stay_daily", scope="office", office_code=office, departure_date=day,
                direction="inbound", n_items=n, stay_n=n, stay_p90_h=p90)


def test_stay_slow_against_own_28_day_median(con):
    history = {N3 - timedelta(days=i): 10.0 + (i % 3) for i in range(1, 29)}  # median 11 h
    history[N3 - timedelta(days=29)] = 100.0                                   # outside the window
    _stays(con, "CNBJSA", {**history, N3: 16.6})     # 1.51 x 11 h: warning
    _stays(con, "CNSHAA", {**history, N3: 16.4})     # 1.49 x: nothing
    _stays(con, "CNCANA", {**history, N3: 23.0})     # 2.09 x: critical
    _stays(con, "CNURCA", {**history, N3: 40.0}, n=60)
    con.execute("UPDATE mart.office_stay_daily SET stay_n = 49 WHERE office_code = 'CNURCA' "
                "AND departure_date = ?", [N3])     # fewer than 50 stays tonight: nothing
    got = _night(con, N3)
    stay = {k[1]: v for k, v in got.items() if k[0] == "stay_slow"}
    assert set(stay) == {"CNBJSA", "CNCANA"}
    assert stay["CNBJSA"]["value"] == pytest.approx(16.6 / 11) and stay["CNBJSA"]["severity"] == "warning"
    assert stay["CNCANA"]["severity"] == "critical" and "28-day median 11.0 h" in stay["CNCANA"]["message_en"]


def test_customs_slow_needs_50_released_items(con):
    """A share over a handful of items says nothing about the office (docs/office-stay.md)."""
    _dwell(con, N1, "CNCANA", 0.70, n_released=50)
    _dwell(con, N1, "CNSHAA", 0.70, n_released=49)
    _dwell(con, N1, "CNMLXA", 1 / 3, direction="inbound", n_released=3)
    _dwell(con, N1, "CNBJSA", 0.85, n_released=500)
    slow = {k[1]: v for k, v in _night(con, N1).items() if k[0] == "customs_slow"}
    assert set(slow) == {"CNCANA"} and slow["CNCANA"]["value"] == pytest.approx(0.70)
