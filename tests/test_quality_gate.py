"""Where each defect of the feeds spec ends up (issue 3): row quarantined with the right rule,
file quarantined, publish blocked, warning recorded — and nothing else lost."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline_helpers import START, day, paths_for, q
from transforms import pipeline
from transforms.demo import generate
from transforms.validate import PublishBlocked

ROW_RULES = {  # demo quirk kind -> (feed, rule) of the quarantined row
    "negative_count": ("exchange_office", "negative_count"),
    "date_outside_folder": ("exchange_office", "date_outside_folder"),
    "unknown_event_code": ("item_events", "unknown_event_code"),
    "impossible_timestamp": ("item_events", "invalid_timestamp"),
}
FILE_RULES = {"total_mismatch": "total_mismatch", "not_a_spreadsheet": "not_readable",
              "truncated_gz": "not_readable"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    summary = generate(root / "landing", start=START, days=6, seed=11, scale=0.02)
    paths = paths_for(root / "landing", root / "w.duckdb")
    pipeline.run_night(paths, day(6))
    return summary, paths


def quirks(summary, kind):
    found = [x for x in summary["quirks"] if x["kind"] == kind]
    assert found, f"the demo should inject {kind}"
    return found


@pytest.mark.parametrize("kind", sorted(ROW_RULES))
def test_row_defects_are_quarantined_with_their_rule(run, kind):
    summary, paths = run
    feed, rule = ROW_RULES[kind]
    for quirk in quirks(summary, kind):
        hits = q(paths, "SELECT path, line, raw FROM mart.quarantine WHERE rule = ? AND feed = ?", rule, feed)
        if feed == "item_events":
            assert any(quirk["item_id"] in (raw or "") for _, _, raw in hits), (quirk, hits)
        else:
            assert any(p == quirk["path"] and line is not None for p, line, _ in hits), (quirk, hits)


def test_unknown_offices_in_both_feeds(run):
    summary, paths = run
    hits = q(paths, "SELECT feed, raw FROM mart.quarantine WHERE rule = 'unknown_office'")
    assert {f for f, _ in hits} >= {"exchange_office", "item_events"}
    assert all("CNXYZA" in raw for _, raw in hits)


def test_bad_check_digits_are_quarantined_and_good_twins_are_not(run):
    summary, paths = run
    for quirk in quirks(summary, "bad_s10_check_digit"):
        bad = q(paths, "SELECT count(*) FROM mart.quarantine WHERE rule = 's10_check_digit' "
                       "AND raw LIKE ?", f"%{quirk['item_id']}%")[0][0]
        assert bad >= 1, quirk


@pytest.mark.parametrize("kind", sorted(FILE_RULES))
def test_file_defects_quarantine_the_whole_file(run, kind):
    summary, paths = run
    for quirk in quirks(summary, kind):
        rows = q(paths, "SELECT status, rows_loaded, message FROM mart.load_ledger WHERE path = ?",
                 quirk["path"])
        assert rows and rows[0][0] == "quarantined" and rows[0][1] == 0, (quirk, rows)
        assert FILE_RULES[kind] in rows[0][2]
        assert q(paths, "SELECT count(*) FROM mart.quarantine WHERE path = ? AND line IS NULL "
                        "AND rule = ?", quirk["path"], FILE_RULES[kind])[0][0] == 1


def test_part_file_is_not_read(run):
    summary, paths = run
    for quirk in quirks(summary, "part_file"):
        assert q(paths, "SELECT count(*) FROM mart.load_ledger WHERE path LIKE ?",
                 quirk["path"] + "%")[0][0] == 0


def test_missing_office_day_is_reported_not_zero(run):
    summary, paths = run
    for quirk in quirks(summary, "missing_office_day"):
        rows = q(paths, "SELECT reported, items_received FROM mart.office_daily WHERE office_code = ? "
                        "AND report_date = ?", quirk["office_code"], quirk["day"])
        assert rows and all(r == (False, None) for r in rows)
        missing = q(paths, "SELECT offices_missing FROM mart.quality_daily WHERE feed = 'exchange_office' "
                           "AND check_name = 'expected_offices_reported' AND report_date = ?", quirk["day"])
        assert quirk["office_code"] in missing[0][0]


def test_redelivery_supersedes_and_duplicates_are_counted(run):
    summary, paths = run
    for quirk in quirks(summary, "redelivery"):
        old = q(paths, "SELECT status FROM mart.load_ledger WHERE path = ?", quirk["replaces"])
        assert old[0][0] in ("superseded", "quarantined"), quirk
    assert q(paths, "SELECT sum(rows_duplicate) FROM mart.load_ledger")[0][0] > 0


def test_nothing_lost(run):
    _, paths = run
    assert q(paths, "SELECT count(*) FROM mart.load_ledger "
                    "WHERE rows_read <> rows_loaded + rows_quarantined + rows_duplicate")[0][0] == 0
    quarantined_rows = q(paths, "SELECT count(DISTINCT (file_id, line)) FROM mart.quarantine "
                                "WHERE line IS NOT NULL")[0][0]
    ledger_rows = q(paths, "SELECT sum(rows_quarantined) FROM mart.load_ledger "
                           "WHERE status <> 'quarantined'")[0][0]
    assert quarantined_rows == ledger_rows


def test_every_detail_carries_its_rule_once(run):
    _, paths = run
    texts = q(paths, "SELECT detail FROM mart.quarantine UNION ALL "
                     "SELECT message FROM mart.load_ledger WHERE message IS NOT NULL")
    assert texts
    doubled = [t for (t,) in texts if len(parts := t.split(": ", 2)) > 1 and parts[0] == parts[1]]
    assert doubled == []
    # a file-level detail starts with its rule (the ledger shows it as is)
    assert q(paths, "SELECT count(*) FROM mart.quarantine "
                    "WHERE line IS NULL AND NOT starts_with(detail, rule || ': ')")[0][0] == 0


def test_warnings_are_recorded_and_published(run):
    _, paths = run
    rows = q(paths, "SELECT check_name, success FROM mart.quality_daily WHERE severity = 'warning' "
                    "AND suite = 'mart_reconciliation_daily'")
    assert rows, "the cross-feed reconciliation must be recorded"
    assert q(paths, "SELECT count(*) FROM mart.reconciliation_daily")[0][0] > 0


def test_failed_error_rule_blocks_publish_and_keeps_previous_warehouse(run, tmp_path):
    _, paths = run
    before = q(paths, "SELECT published_at FROM mart.publication")[0][0]
    con = duckdb.connect(str(paths.state_db))
    con.execute("UPDATE mart.customs_dwell_daily SET dwell_p50_h = dwell_max_h + 1 "
                "WHERE n_released > 1 AND release_date = (SELECT max(release_date) FROM mart.customs_dwell_daily "
                "WHERE n_released > 1)")
    # as a build that produced this row would leave it: marts changed, not yet validated
    con.execute("UPDATE core.mart_validation SET status = 'pending'")
    con.close()
    with pytest.raises(PublishBlocked, match="percentiles_unordered"):
        pipeline.validate_marts(paths, day(6))
    assert q(paths, "SELECT published_at FROM mart.publication")[0][0] == before
    # the failure is recorded for the quality report; the next good build publishes again
    state = duckdb.connect(str(paths.state_db), read_only=True)
    assert state.execute("SELECT count(*) FROM core.quality_results WHERE NOT success "
                         "AND severity = 'error'").fetchone()[0] >= 1
    state.close()
