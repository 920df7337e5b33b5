{{ config(refresh="departure_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.office_stay_daily: the stay of items at an office of exchange step by step (WCO Time
-- Release Study), per office, local day of departure and direction, from core.office_stay;
-- national rows (scope = 'national', office_code NULL) over all items, not a mean of offices.
WITH stays AS (
    SELECT * FROM {{ source('core', 'office_stay') }} WHERE departure_date IN (SELECT d FROM {{ ref('refresh_days') }})
)
SELECT
    CASE WHEN grouping(office_code) = 1 THEN 'national' ELSE 'office' END AS scope,
    office_code, departure_date, direction,
    count(*) AS n_items,
    count(*) FILTER (WHERE arrival_utc IS NULL) AS n_missing_arrival,
    count(*) FILTER (WHERE released_utc IS NULL) AS n_missing_release,
    count(to_customs_h) AS to_customs_n, avg(to_customs_h) AS to_customs_mean_h,
    quantile_cont(to_customs_h, 0.5) AS to_customs_p50_h, quantile_cont(to_customs_h, 0.9) AS to_customs_p90_h,
    quantile_cont(to_customs_h, 0.95) AS to_customs_p95_h,
    count(customs_h) AS customs_n, avg(customs_h) AS customs_mean_h,
    quantile_cont(customs_h, 0.5) AS customs_p50_h, quantile_cont(customs_h, 0.9) AS customs_p90_h,
    quantile_cont(customs_h, 0.95) AS customs_p95_h,
    count(after_release_h) AS after_release_n, avg(after_release_h) AS after_release_mean_h,
    quantile_cont(after_release_h, 0.5) AS after_release_p50_h, quantile_cont(after_release_h, 0.9) AS after_release_p90_h,
    quantile_cont(after_release_h, 0.95) AS after_release_p95_h,
    count(stay_h) AS stay_n, avg(stay_h) AS stay_mean_h,
    quantile_cont(stay_h, 0.5) AS stay_p50_h, quantile_cont(stay_h, 0.9) AS stay_p90_h,
    quantile_cont(stay_h, 0.95) AS stay_p95_h,
    count(*) FILTER (WHERE stay_h <= 24) / nullif(count(stay_h), 0)::DOUBLE AS stay_share_within_24h,
    count(*) FILTER (WHERE stay_h <= 48) / nullif(count(stay_h), 0)::DOUBLE AS stay_share_within_48h
FROM stays
GROUP BY GROUPING SETS ((office_code, departure_date, direction), (departure_date, direction))
