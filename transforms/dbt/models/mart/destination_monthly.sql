{{ config(refresh="month IN (SELECT DISTINCT strftime(d, '%Y-%m') FROM work.refresh_days)") }}
-- mart.destination_monthly: where the outbound trade goes, per destination country and month
-- of the dispatch's local date, with its share of the month and its growth.
WITH months AS (
    SELECT DISTINCT strftime(d, '%Y-%m') AS month FROM {{ ref('refresh_days') }}
),
span AS (
    SELECT (date_trunc('month', min(d)) - INTERVAL 12 MONTH)::DATE AS lo,
           (date_trunc('month', max(d)) + INTERVAL 1 MONTH)::DATE AS hi
    FROM {{ ref('refresh_days') }}
),
by_country AS (
    SELECT destination_country, strftime(dispatch_date, '%Y-%m') AS month,
           date_trunc('month', dispatch_date)::DATE AS month_start,
           count(*) AS items_dispatched
    FROM {{ ref('all_dispatch') }}, span
    WHERE dispatch_date >= span.lo AND dispatch_date < span.hi
    GROUP BY ALL
),
monthly AS (
    -- the share's denominator is every item dispatched in the month, destination known or not
    SELECT *, sum(items_dispatched) OVER (PARTITION BY month) AS month_total
    FROM by_country
)
SELECT
    m.destination_country, m.month, m.items_dispatched,
    m.items_dispatched / m.month_total::DOUBLE AS share,
    m.items_dispatched / nullif(prev.items_dispatched, 0)::DOUBLE - 1 AS growth_mom,
    m.items_dispatched / nullif(last_year.items_dispatched, 0)::DOUBLE - 1 AS growth_yoy
FROM monthly m
LEFT JOIN monthly prev
  ON prev.destination_country = m.destination_country
 AND prev.month_start = (m.month_start - INTERVAL 1 MONTH)::DATE
LEFT JOIN monthly last_year
  ON last_year.destination_country = m.destination_country
 AND last_year.month_start = (m.month_start - INTERVAL 12 MONTH)::DATE
WHERE m.month IN (SELECT month FROM months) AND m.destination_country IS NOT NULL
