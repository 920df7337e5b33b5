{{ config(refresh="true") }}
-- mart.load_ledger: one row per input file ever seen.
SELECT file_id, path, feed, report_date, content_hash, status, rows_read, rows_loaded,
       rows_quarantined, rows_duplicate, superseded_by, encoding, message, run_date,
       first_seen_at, loaded_at
FROM {{ source('core', 'ledger') }}
WHERE status <> 'staged'
