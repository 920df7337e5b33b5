-- Reports received but rejected: the site-days of the batch (site code of a file's rows, the
-- file's date folder) for which a file delivered rows and none of that site's rows was loaded
-- (the file quarantined whole, or every such row quarantined), with the rules they broke.
-- A file none of whose rows could even be parsed names no site: only its ledger row and the
-- file_quarantined alert tell of it.
DELETE FROM core.rejected_reports WHERE file_id IN (SELECT _file_id FROM staging.batch_files);

INSERT INTO core.rejected_reports
WITH delivered AS (
    SELECT _file_id, _line, 'exchange_office' AS feed, office_code AS site_code, folder_date
    FROM staging.exchange_office
    UNION ALL
    SELECT _file_id, _line, 'customs_centre', centre_code, folder_date FROM staging.customs_centre
),
loaded AS (
    SELECT _file_id, office_code AS site_code FROM temp.eo_clean
    UNION ALL
    SELECT _file_id, centre_code FROM temp.cc_clean
),
why AS (
    SELECT _file_id, NULL::BIGINT AS _line, rule FROM temp.quarantined_files
    UNION ALL
    SELECT _file_id, _line, rule FROM temp.quarantined_rows
)
SELECT d._file_id, d.feed, d.site_code, d.folder_date,
       string_agg(DISTINCT w.rule, ', ' ORDER BY w.rule)
FROM delivered d
LEFT JOIN why w ON w._file_id = d._file_id AND (w._line IS NULL OR w._line = d._line)
WHERE d.site_code IS NOT NULL AND d.folder_date IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM loaded l WHERE l._file_id = d._file_id AND l.site_code = d.site_code)
GROUP BY ALL;

-- The day's published rows must now say why the report is missing.
INSERT OR IGNORE INTO core.pending_dates
SELECT DISTINCT report_date FROM core.rejected_reports
WHERE file_id IN (SELECT _file_id FROM staging.batch_files);
