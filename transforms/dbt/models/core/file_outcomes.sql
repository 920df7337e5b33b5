-- What became of each file of the batch: rows read = loaded + quarantined + duplicate. The
-- last model of the core build: its hooks account for the files in core.ledger (and mark the
-- reports and the reference a later delivery replaced whole as superseded) and queue the
-- night's new events for the history, in this model's own transaction, so a file is
-- `loaded` only once everything below it has committed.
-- depends_on: {{ ref('exchange_office_rows') }} {{ ref('centre_rows') }} {{ ref('office_stay') }}
-- depends_on: {{ ref('dispatch') }} {{ ref('touched_event_order') }} {{ ref('core_quarantine') }}
-- depends_on: {{ ref('rejected_reports') }} {{ ref('core_offices') }} {{ ref('exchange_office_deliveries') }}
-- depends_on: {{ ref('centre_deliveries') }}
{{ config(schema='work', materialized='table',
          post_hook=["{{ account_for_batch() }}", "{{ supersede_reports() }}",
                     "{{ supersede_reference() }}",
                     "INSERT OR IGNORE INTO core.history_pending VALUES (getvariable('batch'), getvariable('run_date'))"]) }}
WITH q AS (
    SELECT _file_id, count(DISTINCT _line) AS n FROM {{ ref('quarantined_rows') }} GROUP BY _file_id
),
clean AS (
    SELECT _file_id, count(*) AS n FROM {{ ref('exchange_office_clean') }} GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM {{ ref('centre_clean') }} GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM {{ ref('ev_new') }} GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM {{ source('batch', 'raw_reference') }}
        WHERE {{ reference_accepted() }}
        GROUP BY ALL
),
row_rules AS (
    SELECT _file_id, string_agg(rule || ' (' || n || ')', ', ' ORDER BY rule) AS rules
    FROM (SELECT _file_id, rule, count(DISTINCT _line) AS n FROM {{ ref('quarantined_rows') }} GROUP BY ALL)
    GROUP BY ALL
),
dup AS (
    SELECT c._file_id, c.n - coalesce(n.n, 0) AS n
    FROM (SELECT _file_id, count(*) AS n FROM {{ ref('ev_clean') }} GROUP BY ALL) c
    LEFT JOIN (SELECT _file_id, count(*) AS n FROM {{ ref('ev_new') }} GROUP BY ALL) n USING (_file_id)
)
SELECT
    bf._file_id AS file_id,
    (qf._file_id IS NOT NULL) AS file_quarantined,
    qf.detail AS file_detail,
    CASE WHEN qf._file_id IS NOT NULL THEN 0 ELSE coalesce(cl.n, 0) END AS rows_loaded,
    CASE WHEN qf._file_id IS NOT NULL THEN bf.rows_read ELSE coalesce(q.n, 0) END AS rows_quarantined,
    CASE WHEN qf._file_id IS NOT NULL THEN 0 ELSE coalesce(d.n, 0) END AS rows_duplicate,
    -- rows read and every one quarantined: nothing of the file was loaded, it is rejected too
    qf._file_id IS NULL AND coalesce(cl.n, 0) = 0 AND coalesce(d.n, 0) = 0
        AND coalesce(q.n, 0) > 0 AS all_rows_quarantined,
    rr.rules AS row_rules
FROM {{ source('batch', 'batch_files') }} bf
LEFT JOIN (SELECT _file_id, string_agg(detail, '; ') AS detail
           FROM {{ ref('quarantined_files') }} GROUP BY ALL) qf USING (_file_id)
LEFT JOIN (SELECT _file_id, sum(n) AS n FROM clean GROUP BY ALL) cl USING (_file_id)
LEFT JOIN q USING (_file_id)
LEFT JOIN dup d USING (_file_id)
LEFT JOIN row_rules rr USING (_file_id)
