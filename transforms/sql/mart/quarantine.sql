-- mart.quarantine: every quarantined row or file.
SELECT file_id, feed, path, line, rule, detail, raw, run_date
FROM core.quarantine
