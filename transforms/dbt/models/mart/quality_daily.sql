-- A view, not a table: it shows the mart suites' results that validate_marts records after
-- the marts are built, without a rebuild (publish copies it as a table).
{{ config(materialized="view") }}
-- mart.quality_daily: per feed and data day, the expectation results of each night that
-- checked data of that day (a late file's results under its own day, with the night in
-- run_date) and whether every expected office reported.
WITH expectation_results AS (
    -- results recorded before they were filed per data day carry their run's day
    SELECT feed, coalesce(report_date, run_date) AS report_date, rule AS check_name, expectation,
           column_name, severity, success, observed AS observed_value,
           unexpected_count AS rows_failed, NULL::VARCHAR AS offices_missing, suite, run_date
    FROM {{ source('core', 'quality_results') }}
),
freshness AS (
    SELECT 'exchange_office' AS feed, report_date,
           coalesce(list(DISTINCT office_code ORDER BY office_code) FILTER (WHERE NOT reported), []) AS missing
    FROM {{ ref('office_daily') }} GROUP BY ALL
    UNION ALL
    SELECT 'customs_centre', report_date,
           coalesce(list(DISTINCT centre_code ORDER BY centre_code) FILTER (WHERE NOT reported), [])
    FROM {{ ref('centre_daily') }} GROUP BY ALL
),
quarantined_by_day AS (
    -- row and file rules per feed and the day the data reports on (its date folder)
    SELECT l.feed, l.report_date, q.rule,
           CASE WHEN q.line IS NULL THEN 'file' ELSE 'row' END AS severity,
           count(DISTINCT (q.file_id, q.line)) AS n
    FROM {{ ref('core_quarantine') }} q JOIN {{ source('core', 'ledger') }} l USING (file_id)
    GROUP BY ALL
)
SELECT * FROM expectation_results
UNION ALL
SELECT feed, report_date, rule, 'quarantine', NULL, severity, false, CAST(n AS VARCHAR), n, NULL,
       'quarantine', NULL
FROM quarantined_by_day
UNION ALL
SELECT feed, report_date, 'expected_offices_reported', 'freshness', NULL, 'warning',
       len(missing) = 0, CAST(len(missing) AS VARCHAR), len(missing),
       array_to_string(missing, ','), 'freshness', NULL
FROM freshness
