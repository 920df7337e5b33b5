-- Rows of the batch not loaded (a parse or a row rule failed), outside the files quarantined
-- whole.
{{ config(schema='work', materialized='table') }}
SELECT _file_id, _line, _raw, rule, detail FROM {{ source('batch', 'parse_quarantine') }}
WHERE _file_id NOT IN (SELECT _file_id FROM {{ ref('quarantined_files') }})
UNION ALL
SELECT _file_id, _line, _raw, rule, detail FROM {{ source('gate', 'rule_failures') }}
WHERE _file_id NOT IN (SELECT _file_id FROM {{ ref('quarantined_files') }})
