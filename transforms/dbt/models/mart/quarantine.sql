{{ config(refresh="true") }}
-- mart.quarantine: every quarantined row or file.
SELECT file_id, feed, path, regexp_extract(path, '[^/]+$') AS file, line, rule, detail, raw, run_date
FROM {{ ref('core_quarantine') }}
