{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="file_id NOT IN (SELECT file_id FROM core.ledger WHERE status <> 'staged')") }}
-- Reports received but rejected: the site-days of the batch (site code of a file's rows, the
-- file's date folder) for which a file delivered rows and none of that site's rows was loaded
-- (the file quarantined whole, or every such row quarantined), with the rules they broke.
-- A file none of whose rows could even be parsed names no site: only its ledger row and the
-- file_quarantined alert tell of it. Replaces the rows of the files not yet in the ledger (the
-- batch's, and a killed run's).
WITH delivered AS (
    -- of the batch: a night with no file does not rebuild the staging models
    SELECT * FROM (
        SELECT _file_id, _line, 'exchange_office' AS feed, office_code AS site_code, folder_date
        FROM {{ ref('exchange_office') }}
        UNION ALL
        SELECT _file_id, _line, 'customs_centre', centre_code, folder_date FROM {{ ref('customs_centre') }}
    ) SEMI JOIN {{ source('batch', 'batch_files') }} USING (_file_id)
),
loaded AS (
    SELECT _file_id, office_code AS site_code FROM {{ ref('exchange_office_clean') }}
    UNION ALL
    SELECT _file_id, centre_code FROM {{ ref('centre_clean') }}
),
why AS (
    SELECT _file_id, NULL::BIGINT AS _line, rule FROM {{ ref('quarantined_files') }}
    UNION ALL
    SELECT _file_id, _line, rule FROM {{ ref('quarantined_rows') }}
)
SELECT d._file_id AS file_id, d.feed, d.site_code, d.folder_date AS report_date,
       string_agg(DISTINCT w.rule, ', ' ORDER BY w.rule) AS rules
FROM delivered d
LEFT JOIN why w ON w._file_id = d._file_id AND (w._line IS NULL OR w._line = d._line)
WHERE d.site_code IS NOT NULL AND d.folder_date IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM loaded l WHERE l._file_id = d._file_id AND l.site_code = d.site_code)
GROUP BY ALL
