{{ config(refresh="departure_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.office_stay_daily: the stay of items at an office of exchange step by step (WCO Time
-- Release Study), per office, local day of departure and direction, from core.office_stay;
-- national rows (scope = 'national', office_code NULL) over all items, not a mean of offices.
WITH stays AS (
    SELECT * FROM {{ ref('all_office_stay') }} WHERE departure_date IN (SELECT d FROM {{ ref('refresh_days') }})
)
SELECT
    CASE WHEN grouping(office_code) = 1 THEN 'national' ELSE 'office' END AS scope,
    office_code, departure_date, direction,
    count(*) AS n_items,
    count(*) FILTER (WHERE arrival_utc IS NULL) AS n_missing_arrival,
    count(*) FILTER (WHERE released_utc IS NULL) AS n_missing_release,
    {%- for step in ['to_customs', 'customs', 'after_release', 'stay'] %}
    count({{ step }}_h) AS {{ step }}_n, avg({{ step }}_h) AS {{ step }}_mean_h,
    quantile_cont({{ step }}_h, 0.5) AS {{ step }}_p50_h, quantile_cont({{ step }}_h, 0.9) AS {{ step }}_p90_h,
    quantile_cont({{ step }}_h, 0.95) AS {{ step }}_p95_h,
    {%- endfor %}
    count(*) FILTER (WHERE stay_h <= 24) / nullif(count(stay_h), 0)::DOUBLE AS stay_share_within_24h,
    count(*) FILTER (WHERE stay_h <= 48) / nullif(count(stay_h), 0)::DOUBLE AS stay_share_within_48h
FROM stays
GROUP BY GROUPING SETS ((office_code, departure_date, direction), (departure_date, direction))
