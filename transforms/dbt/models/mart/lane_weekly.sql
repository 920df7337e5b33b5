{{ config(refresh="iso_week IN (SELECT DISTINCT strftime(d, '%G-W%V') FROM work.refresh_days)") }}
-- mart.lane_weekly: international legs per origin office, destination country and ISO week of
-- the dispatch's local date.
WITH weeks AS (
    SELECT DISTINCT strftime(d, '%G-W%V') AS iso_week FROM {{ ref('refresh_days') }}
),
dispatched AS (
    SELECT *, strftime(dispatch_date, '%G-W%V') AS iso_week
    FROM {{ ref('all_dispatch') }}
    WHERE dispatch_date BETWEEN (SELECT min(d) - 7 FROM {{ ref('refresh_days') }})
                            AND (SELECT max(d) + 7 FROM {{ ref('refresh_days') }})
      AND destination_country IS NOT NULL
)
SELECT
    origin_office, destination_country, iso_week,
    count(*) AS items_dispatched,
    count(arrival_utc) AS items_arrived,
    quantile_cont(leg_days, 0.5) AS leg_p50_days,
    quantile_cont(leg_days, 0.9) AS leg_p90_days,
    avg(leg_days) AS leg_mean_days
FROM dispatched
WHERE iso_week IN (SELECT iso_week FROM weeks)
GROUP BY ALL
