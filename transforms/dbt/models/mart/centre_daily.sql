{{ config(refresh="report_date IN (SELECT d FROM work.refresh_days)") }}
-- mart.centre_daily: express supervision centres per centre, day, direction and regime
-- (feed B as reported); a day an expected centre did not report is a row per direction with
-- regime NULL, reported = false, NULL measures and missing_reason (not_received or rejected).
WITH days AS (
    SELECT d FROM {{ ref('refresh_days') }}
    WHERE d >= (SELECT min(report_date) FROM {{ ref('centre_rows') }})
),
daily AS (
    SELECT centre_code, report_date, direction, regime,
           sum(declarations_lodged)::BIGINT AS declarations_lodged,
           sum(declarations_released)::BIGINT AS declarations_released,
           sum(declarations_inspected)::BIGINT AS declarations_inspected,
           sum(declarations_held)::BIGINT AS declarations_held,
           sum(declarations_rejected)::BIGINT AS declarations_rejected,
           sum(items_declared)::BIGINT AS items_declared,
           sum(declared_value_cny) AS declared_value_cny,
           sum(release_hours_total) AS release_hours_total,
           sum(pending_close)::BIGINT AS pending_close
    FROM {{ ref('centre_rows') }}
    WHERE report_date IN (SELECT d FROM days)
    GROUP BY ALL
),
missing AS (
    {{ missing_reports(ref('centre_rows'), 'centre_code', 'customs_centre',
                       ['express_supervision_centre']) }}
),
grid AS (
    SELECT *, true AS reported FROM daily
    UNION ALL BY NAME
    SELECT centre_code, report_date, direction, NULL::VARCHAR AS regime, false AS reported,
           missing_reason
    FROM missing
),
with_capacity AS (
    SELECT g.*,
           {{ capacity_of('g.direction') }} AS capacity_per_day,
           sum(g.declarations_lodged) OVER (
               PARTITION BY g.centre_code, g.report_date, g.direction) AS lodged_all_regimes
    FROM grid g
    LEFT JOIN {{ ref('core_offices') }} o
      ON o.office_code = g.centre_code AND {{ valid_on('g.report_date') }}
)
SELECT
    centre_code, report_date, direction, regime,
    declarations_lodged, declarations_released, declarations_inspected, declarations_held,
    declarations_rejected, items_declared, declared_value_cny, release_hours_total, pending_close,
    capacity_per_day,
    declarations_released / nullif(declarations_lodged, 0)::DOUBLE AS release_rate,
    declarations_inspected / nullif(declarations_lodged, 0)::DOUBLE AS inspection_rate,
    release_hours_total / nullif(declarations_released, 0)::DOUBLE AS mean_release_h,
    lodged_all_regimes / nullif(capacity_per_day, 0)::DOUBLE AS load_factor,
    reported, missing_reason
FROM with_capacity
