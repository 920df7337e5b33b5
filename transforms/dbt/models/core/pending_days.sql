-- The days whose clearance_daily and mart rows must be recomputed: those the per-item models
-- marked (core.pending_dates), the days of reports delivered or rejected by files accounted for
-- since the marts were last built, and, when a reference was accepted since then, every day up
-- to the night (capacities and validity periods apply to every day). Derived from the state, not from the
-- batch, so that a run killed after the core build's commit leaves the rerun the same days.
-- depends_on: {{ ref('file_outcomes') }}
{{ config(schema='work', materialized='table') }}
WITH last_build AS (
    SELECT coalesce(max(finished_at), '-infinity'::TIMESTAMP) AS at FROM {{ source('core', 'runs') }}
),
accounted AS (
    SELECT file_id, feed FROM {{ source('core', 'ledger') }}, last_build
    WHERE status <> 'staged' AND loaded_at > last_build.at
)
SELECT d FROM {{ source('core', 'pending_dates') }}
UNION
SELECT r.report_date FROM {{ ref('rejected_reports') }} r SEMI JOIN accounted a ON a.file_id = r.file_id
UNION
SELECT d.report_date FROM {{ ref('exchange_office_deliveries') }} d SEMI JOIN accounted a ON a.file_id = d.file_id
UNION
SELECT d.report_date FROM {{ ref('centre_deliveries') }} d SEMI JOIN accounted a ON a.file_id = d.file_id
UNION
SELECT CAST(t.d AS DATE) FROM range(
    (SELECT least(min(report_date), getvariable('run_date'))
     FROM (SELECT report_date FROM {{ ref('exchange_office_rows') }}
           UNION ALL SELECT report_date FROM {{ ref('centre_rows') }})),
    getvariable('run_date') + 1, INTERVAL 1 DAY) t(d)
WHERE EXISTS (SELECT 1 FROM accounted WHERE feed = 'reference')
