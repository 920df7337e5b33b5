-- Files of the batch not loaded at all: unreadable (the reader's file error) or failing a file
-- rule of the quality gate.
{{ config(schema='work', materialized='table') }}
SELECT _file_id, file_error_rule AS rule, file_error_detail AS detail
FROM {{ source('batch', 'batch_files') }} WHERE file_error_rule IS NOT NULL
UNION ALL
SELECT _file_id, rule, detail FROM {{ source('gate', 'file_failures') }}
