{{ config(refresh="release_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.customs_dwell_daily: time in customs per office, release day and direction (feed C),
-- WCO Time Release Study statistics over the items released that day.
WITH days AS (SELECT d FROM {{ ref('refresh_days') }}),
released AS (
    SELECT office_code, direction, release_date,
           count(*) AS n_released,
           avg(dwell_h) AS dwell_mean_h,
           quantile_cont(dwell_h, 0.5) AS dwell_p50_h,
           quantile_cont(dwell_h, 0.9) AS dwell_p90_h,
           quantile_cont(dwell_h, 0.95) AS dwell_p95_h,
           max(dwell_h) AS dwell_max_h,
           count(*) FILTER (WHERE dwell_h <= 24) / count(*)::DOUBLE AS share_within_24h,
           count(*) FILTER (WHERE retained) AS n_retained
    FROM {{ ref('all_clearance') }}
    WHERE release_date IN (SELECT d FROM days)
    GROUP BY ALL
),
stock AS (
    SELECT office_code, direction, day,
           (sum(n_presented - n_released) OVER (
               PARTITION BY office_code, direction ORDER BY day
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))::BIGINT AS in_customs
    FROM {{ ref('clearance_daily') }}
),
grid AS (
    SELECT p.office_code, p.direction, d.d AS release_date
    FROM (SELECT office_code, direction, min(day) AS first_day
          FROM {{ ref('clearance_daily') }} GROUP BY ALL) p
    JOIN days d ON d.d >= p.first_day
),
with_stock AS (
    SELECT g.*, s.in_customs AS in_customs_close
    FROM grid g ASOF LEFT JOIN stock s
      ON s.office_code = g.office_code AND s.direction = g.direction AND g.release_date >= s.day
)
SELECT
    w.office_code, w.release_date, w.direction,
    coalesce(r.n_released, 0) AS n_released,
    r.dwell_mean_h, r.dwell_p50_h, r.dwell_p90_h, r.dwell_p95_h, r.dwell_max_h,
    r.share_within_24h,
    coalesce(r.n_retained, 0) AS n_retained,
    coalesce(w.in_customs_close, 0) AS in_customs_close
FROM with_stock w
LEFT JOIN released r USING (office_code, direction, release_date)
