-- Items presented and released per office, direction and local day, recomputed for the
-- pending days only: the running difference is the stock in customs, kept small so the
-- cumulative sum never rescans items.
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="day IN (SELECT d FROM work.pending_days)") }}
SELECT office_code, direction, day, sum(n_presented)::BIGINT AS n_presented,
       sum(n_released)::BIGINT AS n_released
FROM (
    SELECT office_code, direction, presented_date AS day, 1 AS n_presented, 0 AS n_released
    FROM {{ ref('all_clearance') }}
    WHERE presented_date IN (SELECT d FROM {{ ref('pending_days') }})
    UNION ALL
    SELECT office_code, direction, release_date, 0, 1
    FROM {{ ref('all_clearance') }}
    WHERE release_date IN (SELECT d FROM {{ ref('pending_days') }})
)
GROUP BY ALL
