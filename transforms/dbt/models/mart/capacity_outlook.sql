{{ config(refresh="as_of_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.capacity_outlook: per site, direction and operating day, the 28-day level against the
-- capacity in force, the monthly growth fitted over 90 days, and when 85 % will be reached.
-- Offices use items_received of mart.office_daily, centres declarations lodged (all regimes).
WITH days AS (SELECT d FROM {{ ref('refresh_days') }}),
series AS (
    SELECT 'exchange_office' AS site_kind, office_code, direction, report_date AS day,
           items_received AS volume, capacity_per_day
    FROM {{ ref('office_daily') }}
    WHERE report_date BETWEEN (SELECT min(d) - 89 FROM days) AND (SELECT max(d) FROM days)
    UNION ALL
    SELECT 'express_supervision_centre', centre_code, direction, report_date,
           sum(declarations_lodged) FILTER (WHERE reported),
           any_value(capacity_per_day)
    FROM {{ ref('centre_daily') }}
    WHERE report_date BETWEEN (SELECT min(d) - 89 FROM days) AND (SELECT max(d) FROM days)
    GROUP BY ALL
),
grid AS (
    SELECT site_kind, office_code, direction, day AS as_of_date, capacity_per_day
    FROM series WHERE day IN (SELECT d FROM days)
),
windowed AS (
    SELECT
        g.site_kind, g.office_code, g.direction, g.as_of_date, g.capacity_per_day,
        count(s.volume) FILTER (WHERE s.day > g.as_of_date - 28) AS days_28d,
        avg(s.volume) FILTER (WHERE s.day > g.as_of_date - 28) AS mean_28d,
        quantile_cont(s.volume, 0.95) FILTER (WHERE s.day > g.as_of_date - 28) AS p95_28d,
        count(*) FILTER (WHERE s.volume > 0) AS days_fit,
        regr_slope(ln(s.volume), epoch(s.day) / 86400.0) FILTER (WHERE s.volume > 0) AS slope
    FROM grid g
    LEFT JOIN series s
      ON s.site_kind = g.site_kind AND s.office_code = g.office_code
     AND s.direction = g.direction
     AND s.day BETWEEN g.as_of_date - 89 AND g.as_of_date
    GROUP BY ALL
),
fitted AS (
    SELECT *,
           CASE WHEN days_fit >= 28 THEN exp(30 * slope) - 1 END AS growth_monthly,
           0.85 * capacity_per_day AS threshold
    FROM windowed
),
projected AS (
    SELECT *,
           CASE
               WHEN mean_28d IS NULL OR capacity_per_day IS NULL OR capacity_per_day <= 0 THEN NULL
               WHEN mean_28d >= threshold THEN 0
               WHEN growth_monthly IS NULL OR growth_monthly <= 0 OR mean_28d <= 0 THEN NULL
               -- smallest whole day on which mean × (1 + g)^(days/30) reaches the threshold
               ELSE ceil(30 * ln(threshold / mean_28d) / ln(1 + growth_monthly) - 1e-9)
           END AS days_to_breach
    FROM fitted
)
SELECT
    office_code, direction, as_of_date, site_kind,
    mean_28d, p95_28d, days_28d, capacity_per_day,
    1 - p95_28d / nullif(capacity_per_day, 0)::DOUBLE AS headroom,
    growth_monthly, days_fit,
    CASE WHEN days_to_breach <= 730
         THEN (as_of_date + CAST(days_to_breach AS INTEGER))::DATE END AS breach_date
FROM projected
