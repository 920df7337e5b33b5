-- What of the batch is not loaded: whole files (unreadable, or a file rule failed) and rows
-- (a parse or row rule failed). Recorded with the file, line, rule and raw content.
CREATE OR REPLACE TEMP TABLE quarantined_files AS
SELECT _file_id, file_error_rule AS rule, file_error_detail AS detail
FROM staging.batch_files WHERE file_error_rule IS NOT NULL
UNION ALL
SELECT _file_id, rule, detail FROM staging.file_failures;

CREATE OR REPLACE TEMP TABLE quarantined_rows AS
SELECT _file_id, _line, _raw, rule, detail FROM staging.parse_quarantine
WHERE _file_id NOT IN (SELECT _file_id FROM temp.quarantined_files)
UNION ALL
SELECT _file_id, _line, _raw, rule, detail FROM staging.rule_failures
WHERE _file_id NOT IN (SELECT _file_id FROM temp.quarantined_files);

INSERT INTO core.quarantine
SELECT q._file_id, bf.feed, bf.path, NULL, q.rule, q.detail, NULL, getvariable('run_date')
FROM temp.quarantined_files q JOIN staging.batch_files bf USING (_file_id);

INSERT INTO core.quarantine
SELECT q._file_id, bf.feed, bf.path, q._line, q.rule, q.detail, q._raw, getvariable('run_date')
FROM temp.quarantined_rows q JOIN staging.batch_files bf USING (_file_id);
