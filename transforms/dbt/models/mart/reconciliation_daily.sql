{{ config(refresh="report_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.reconciliation_daily: what the office reported (feed A) against what its items' tracking
-- events show (feed C), per office, day and direction (inbound: import customs, outbound: export).
WITH days AS (SELECT d FROM {{ ref('refresh_days') }}),
reported AS (
    SELECT office_code, report_date, direction, items_presented, items_released
    FROM {{ ref('office_daily') }}
    WHERE reported AND direction IN ('inbound', 'outbound') AND report_date IN (SELECT d FROM days)
),
tracked AS (
    SELECT office_code, day AS report_date, direction,
           sum(n_presented)::BIGINT AS events_presented, sum(n_released)::BIGINT AS events_released
    FROM {{ ref('clearance_daily') }}
    WHERE day IN (SELECT d FROM days)
    GROUP BY ALL
),
joined AS (
    SELECT r.office_code, r.report_date, r.direction, r.items_presented, r.items_released,
           coalesce(t.events_presented, 0) AS events_presented,
           coalesce(t.events_released, 0) AS events_released
    FROM reported r LEFT JOIN tracked t USING (office_code, report_date, direction)
)
SELECT *,
       -- Tolerance: tracking is at-least-once and late (a day's events keep arriving for days),
       -- and the office counts on its own clock, so allow 5 % of the reported count, at least 20.
       greatest(20, 0.05 * coalesce(items_presented, 0))::DOUBLE AS tolerance,
       abs(coalesce(items_presented, 0) - events_presented)
           <= greatest(20, 0.05 * coalesce(items_presented, 0))
       AND abs(coalesce(items_released, 0) - events_released)
           <= greatest(20, 0.05 * coalesce(items_released, 0)) AS within_tolerance
FROM joined
