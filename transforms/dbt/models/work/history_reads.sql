-- The dates of the closed items' rows (history.clearance, dispatch, office_stay) the marts read
-- tonight, per table: core_build plans those tables' files from these ranges before the marts
-- run (the files reach models/core/all_*.sql as bound lists). No row: no day to recompute.
--   clearance: clearance_daily (presented or released on a pending day), customs_dwell_daily and
--              national_daily (released on a refresh day);
--   dispatch: destination_monthly (the refresh days' months and 12 months before them, for the
--             year-on-year growth), lane_weekly (the refresh days' ISO weeks, ± 7 days);
--   office_stay: office_stay_daily (departed on a refresh day).
{{ config(schema='work', materialized='table') }}
WITH r AS (SELECT min(d) AS lo, max(d) AS hi FROM {{ ref('refresh_days') }})
SELECT 'clearance' AS closed_table, lo, hi FROM r WHERE lo IS NOT NULL
UNION ALL
SELECT 'dispatch', (date_trunc('month', lo) - INTERVAL 12 MONTH)::DATE,
       greatest(hi + 7, last_day(hi)) FROM r WHERE lo IS NOT NULL
UNION ALL
SELECT 'office_stay', lo, hi FROM r WHERE lo IS NOT NULL
