-- What of the batch is not loaded: whole files and rows, with the file, line, rule and raw
-- content. Replaces the rows of every file not yet accounted for in the ledger: the batch's
-- own, and those of a run killed before its ledger update (their ledger rows are gone).
{{ config(alias='quarantine', materialized='incremental', incremental_strategy='refresh',
          refresh="file_id NOT IN (SELECT file_id FROM core.ledger WHERE status <> 'staged')") }}
SELECT q._file_id AS file_id, bf.feed, bf.path, NULL::BIGINT AS line, q.rule, q.detail,
       NULL::VARCHAR AS raw, getvariable('run_date')::DATE AS run_date
FROM {{ ref('quarantined_files') }} q JOIN {{ source('batch', 'batch_files') }} bf USING (_file_id)
UNION ALL
SELECT q._file_id, bf.feed, bf.path, q._line, q.rule, q.detail, q._raw, getvariable('run_date')::DATE
FROM {{ ref('quarantined_rows') }} q JOIN {{ source('batch', 'batch_files') }} bf USING (_file_id)
