{{ config(refresh="report_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.office_daily: exchange office throughput and capacity per office, day and direction
-- (feed A summed over mail classes); a day an expected office did not report is a row with
-- reported = false, NULL measures and missing_reason (not_received or rejected).
WITH days AS (
    SELECT d FROM {{ ref('refresh_days') }}
    WHERE d >= (SELECT min(report_date) FROM {{ ref('exchange_office_rows') }})
),
daily AS (
    SELECT office_code, report_date, direction,
           sum(items_received)::BIGINT AS items_received, sum(items_dispatched)::BIGINT AS items_dispatched,
           sum(items_presented)::BIGINT AS items_presented, sum(items_released)::BIGINT AS items_released,
           sum(items_inspected)::BIGINT AS items_inspected, sum(items_held)::BIGINT AS items_held,
           sum(items_returned)::BIGINT AS items_returned, sum(backlog_close)::BIGINT AS backlog_close
    FROM {{ ref('exchange_office_rows') }}
    WHERE report_date BETWEEN (SELECT min(d) - 6 FROM days) AND (SELECT max(d) FROM days)
    GROUP BY ALL
),
with_backlog AS (
    SELECT *,
           avg(items_dispatched) OVER (
               PARTITION BY office_code, direction ORDER BY report_date
               RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW) AS dispatched_mean_7d
    FROM daily
),
missing AS (
    {{ missing_reports(ref('exchange_office_rows'), 'office_code', 'exchange_office',
                       ['exchange_office', 'exchange_station']) }}
),
grid AS (
    SELECT b.*, true AS reported FROM with_backlog b WHERE report_date IN (SELECT d FROM days)
    UNION ALL BY NAME
    SELECT office_code, report_date, direction, false AS reported, missing_reason FROM missing
),
capacity AS (
    SELECT g.*, {{ capacity_of('g.direction') }} AS capacity_per_day
    FROM grid g
    LEFT JOIN {{ ref('core_offices') }} o
      ON o.office_code = g.office_code AND {{ valid_on('g.report_date') }}
)
SELECT
    office_code, report_date, direction,
    items_received, items_dispatched, items_presented, items_released, items_inspected,
    items_held, items_returned, backlog_close,
    capacity_per_day,
    items_received / nullif(capacity_per_day, 0)::DOUBLE AS load_factor,
    items_dispatched / nullif(capacity_per_day, 0)::DOUBLE AS utilization,
    items_released / nullif(items_presented, 0)::DOUBLE AS release_rate,
    items_inspected / nullif(items_presented, 0)::DOUBLE AS inspection_rate,
    items_held / nullif(items_presented, 0)::DOUBLE AS hold_rate,
    backlog_close / nullif(dispatched_mean_7d, 0)::DOUBLE AS backlog_days,
    reported, missing_reason
FROM capacity
