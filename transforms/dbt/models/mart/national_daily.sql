{{ config(refresh="report_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.national_daily: the headline per day and direction. Throughput sums reporting offices
-- of mart.office_daily; customs time is computed over all items released that day at the
-- exchange offices (not an average of office medians).
WITH days AS (SELECT d FROM {{ ref('refresh_days') }}),
offices AS (
    SELECT report_date, direction,
           sum(items_received)::BIGINT AS items_received, sum(items_dispatched)::BIGINT AS items_dispatched,
           sum(items_presented)::BIGINT AS items_presented, sum(items_released)::BIGINT AS items_released,
           sum(items_inspected)::BIGINT AS items_inspected, sum(items_held)::BIGINT AS items_held,
           sum(items_returned)::BIGINT AS items_returned, sum(backlog_close)::BIGINT AS backlog_close,
           sum(capacity_per_day)::BIGINT AS capacity_per_day,
           count(DISTINCT office_code) AS offices_reporting
    FROM {{ ref('office_daily') }}
    WHERE reported AND report_date IN (SELECT d FROM days)
    GROUP BY ALL
),
grid AS (
    SELECT DISTINCT report_date, direction FROM {{ ref('office_daily') }}
    WHERE report_date IN (SELECT d FROM days)
),
expected AS (
    SELECT report_date, count(DISTINCT office_code) AS offices_expected
    FROM ({{ expected_sites(['exchange_office', 'exchange_station']) }})
    GROUP BY ALL
),
dwell AS (
    SELECT c.release_date AS report_date, c.direction,
           count(*) AS n_released,
           quantile_cont(c.dwell_h, 0.5) AS dwell_p50_h,
           count(*) FILTER (WHERE c.dwell_h <= 24) / count(*)::DOUBLE AS share_within_24h
    FROM {{ ref('all_clearance') }} c
    WHERE c.release_date IN (SELECT d FROM days)
      AND c.office_code IN (SELECT office_code FROM {{ ref('core_offices') }}
                            WHERE office_type IN ('exchange_office', 'exchange_station'))
    GROUP BY ALL
)
SELECT
    g.report_date, g.direction,
    o.items_received, o.items_dispatched, o.items_presented, o.items_released,
    o.items_inspected, o.items_held, o.items_returned, o.backlog_close,
    o.capacity_per_day,
    o.items_dispatched / nullif(o.capacity_per_day, 0)::DOUBLE AS utilization,
    o.items_received / nullif(o.capacity_per_day, 0)::DOUBLE AS load_factor,
    coalesce(o.offices_reporting, 0) AS offices_reporting,
    coalesce(e.offices_expected, 0) AS offices_expected,
    coalesce(dw.n_released, 0) AS n_released,
    dw.dwell_p50_h, dw.share_within_24h
FROM grid g
LEFT JOIN offices o USING (report_date, direction)
LEFT JOIN expected e USING (report_date)
LEFT JOIN dwell dw USING (report_date, direction)
