{{ config(refresh="as_of_date = getvariable('run_date') AND as_of_date NOT IN (SELECT run_date FROM core.published_nights)") }}
-- mart.alerts: what needs attention tomorrow morning, one row per triggered condition of this
-- run (as_of_date = the run's operating day), in Chinese and English, with its state against
-- the previous published night. A published night's alerts are a record: never recomputed.
WITH run AS (SELECT getvariable('run_date')::DATE AS run_day
             WHERE getvariable('run_date')::DATE NOT IN (SELECT run_date FROM {{ source('core', 'published_nights') }})),
busy AS (
    SELECT report_date, office_code, direction, 'utilization_high' AS kind, utilization AS value
    FROM {{ ref('office_daily') }}, run WHERE report_date = run.run_day AND utilization > 0.85
    UNION ALL
    SELECT report_date, office_code, direction, 'load_factor_high', load_factor
    FROM {{ ref('office_daily') }}, run WHERE report_date = run.run_day AND load_factor > 0.85
    UNION ALL
    SELECT DISTINCT report_date, centre_code, direction, 'centre_load_factor_high', load_factor
    FROM {{ ref('centre_daily') }}, run WHERE report_date = run.run_day AND load_factor > 0.85
),
breach AS (
    SELECT office_code, direction, breach_date, breach_date - run.run_day AS days_left
    FROM {{ ref('capacity_outlook') }} c, run
    WHERE c.as_of_date = run.run_day
      AND breach_date <= run.run_day + 180
),
slow AS (
    -- at least 50 items released that day, as stay_slow counts 50 stays: on a handful of items
    -- one held parcel moves the share by a third, and the alert would say nothing about the office
    SELECT office_code, direction, share_within_24h
    FROM {{ ref('customs_dwell_daily') }}, run
    WHERE release_date = run.run_day AND n_released >= 50 AND share_within_24h < 0.80
),
missing AS (
    SELECT DISTINCT office_code, missing_reason FROM {{ ref('office_daily') }}, run
    WHERE report_date = run.run_day AND NOT reported
    UNION
    SELECT DISTINCT centre_code, missing_reason FROM {{ ref('centre_daily') }}, run
    WHERE report_date = run.run_day AND NOT reported
),
stay_slow AS (
    -- today's total-stay p90 against the median of the office's daily p90 over the 28 days
    -- before (days with at least 50 stays, at least 7 of them)
    SELECT t.office_code, t.direction, t.stay_p90_h, median(h.stay_p90_h) AS median_28d
    FROM run
    JOIN {{ ref('office_stay_daily') }} t ON t.departure_date = run.run_day
    JOIN {{ ref('office_stay_daily') }} h
      ON h.scope = 'office' AND h.office_code = t.office_code AND h.direction = t.direction
     AND h.departure_date BETWEEN run.run_day - 28 AND run.run_day - 1 AND h.stay_n >= 50
    WHERE t.scope = 'office' AND t.stay_n >= 50
    GROUP BY ALL
    HAVING count(*) >= 7 AND t.stay_p90_h > 1.5 * median(h.stay_p90_h)
),
rejected AS (
    -- the rejected report(s) of each site for the day, with the rules they broke
    SELECT x.site_code AS office_code,
           string_agg(DISTINCT l.path || ' (' || coalesce(x.rules, '?') || ')', '; ') AS files
    FROM {{ ref('rejected_reports') }} x JOIN {{ source('core', 'ledger') }} l ON l.file_id = x.file_id, run
    WHERE x.report_date = run.run_day
    GROUP BY ALL
),
quarantined AS (
    SELECT path, feed, message FROM {{ source('core', 'ledger') }} l, run
    WHERE l.run_date = run.run_day AND status = 'quarantined' AND feed <> 'reference'
),
-- A rejected reference changes nothing (the one in force stays), which is why it must be seen.
reference_rejected AS (
    SELECT path, message,
           (SELECT max(l.run_date) FROM {{ source('core', 'ledger') }} l
            WHERE l.feed = 'reference' AND l.status = 'loaded') AS in_force_since
    FROM {{ source('core', 'ledger') }} q, run
    WHERE q.run_date = run.run_day AND status = 'quarantined' AND feed = 'reference'
),
alerts AS (
SELECT run.run_day AS as_of_date, CASE WHEN value > 1 THEN 'critical' ELSE 'warning' END AS severity,
       office_code, kind, value, 0.85 AS threshold,
       format('{} {}：{} {:.2f}，超过 85%', office_code, direction,
              CASE kind WHEN 'utilization_high' THEN '发运利用率'
                        WHEN 'load_factor_high' THEN '接收负荷率' ELSE '申报负荷率' END, value)
           AS message_zh,
       format('{} {}: {} {:.2f} above 0.85', office_code, direction,
              CASE kind WHEN 'utilization_high' THEN 'utilization'
                        WHEN 'load_factor_high' THEN 'load factor' ELSE 'declaration load factor' END,
              value) AS message_en,
       direction
FROM busy, run
UNION ALL
SELECT run.run_day, CASE WHEN days_left <= 30 THEN 'critical' ELSE 'warning' END,
       office_code, 'capacity_breach', days_left::DOUBLE, 180,
       CASE WHEN days_left = 0
            THEN format('{} {}：28 日均量已达 85% 产能', office_code, direction)
            ELSE format('{} {}：预计 {} 达到 85% 产能（{} 天后）', office_code, direction, breach_date, days_left)
       END,
       CASE WHEN days_left = 0
            THEN format('{} {}: 28-day mean already at 85% of capacity or more', office_code, direction)
            ELSE format('{} {}: projected to reach 85% of capacity on {} ({} days)', office_code,
                        direction, breach_date, days_left)
       END,
       direction
FROM breach, run
UNION ALL
SELECT run.run_day, 'warning', office_code, 'customs_slow', share_within_24h, 0.80,
       format('{} {}：24 小时内通关比例 {:.1f}%，低于 80%', office_code, direction, 100 * share_within_24h),
       format('{} {}: {:.1f}% cleared within 24 h, below 80%', office_code, direction, 100 * share_within_24h),
       direction
FROM slow, run
UNION ALL
SELECT run.run_day, CASE WHEN stay_p90_h > 2 * median_28d THEN 'critical' ELSE 'warning' END,
       office_code, 'stay_slow', stay_p90_h / median_28d, 1.5,
       format('{} {}：在局停留时间 p90 {:.1f} 小时，为近 28 日中位数 {:.1f} 小时的 {:.0f}%', office_code,
              direction, stay_p90_h, median_28d, 100 * stay_p90_h / median_28d),
       format('{} {}: total stay p90 {:.1f} h, {:.0f}% of its 28-day median {:.1f} h', office_code,
              direction, stay_p90_h, 100 * stay_p90_h / median_28d, median_28d),
       direction
FROM stay_slow, run
UNION ALL
SELECT run.run_day, 'warning', office_code, 'report_missing', NULL, NULL,
       format('{}：{} 日报未收到', office_code, run.run_day),
       format('{}: no daily report for {}', office_code, run.run_day),
       NULL
FROM missing, run WHERE missing_reason IS DISTINCT FROM 'rejected'
UNION ALL
SELECT run.run_day, 'warning', office_code, 'report_rejected', NULL, NULL,
       format('{}：{} 日报已收到但被拒收：{}', office_code, run.run_day, r.files),
       format('{}: daily report for {} received but rejected: {}', office_code, run.run_day, r.files),
       NULL
FROM missing JOIN rejected r USING (office_code), run WHERE missing_reason = 'rejected'
UNION ALL
SELECT run.run_day, 'warning', NULL, 'file_quarantined', NULL, NULL,
       format('文件已隔离：{}（{}）', path, message),
       format('file quarantined: {} ({})', path, message),
       NULL
FROM quarantined, run
UNION ALL
SELECT run.run_day, 'critical', NULL, 'reference_rejected', NULL, NULL,
       format('参考表已拒收：{}（{}），继续使用 {} 载入的参考表', path, message,
              coalesce(in_force_since::VARCHAR, '此前')),
       format('reference rejected: {} ({}); the reference loaded on {} stays in force', path,
              message, coalesce(in_force_since::VARCHAR, 'an earlier run')),
       NULL
FROM reference_rejected, run
),
-- State against the previous published night. The same condition is the same kind at the
-- same site and direction; an alert about no site (a file) is a one-off event, always new.
previous AS (
{%- if is_incremental() %}
    SELECT p.* FROM {{ this }} p
    WHERE p.as_of_date = (SELECT max(n.run_date) FROM {{ source('core', 'published_nights') }} n, run
                          WHERE n.run_date < run.run_day)
      AND coalesce(p.state, '') <> 'resolved' AND p.office_code IS NOT NULL
{%- else %}
    -- the table's first build: no night was published before it (threshold typed as the table's)
    SELECT * REPLACE (threshold::DOUBLE AS threshold), NULL::DATE AS first_fired FROM alerts WHERE false
{%- endif %}
),
banded AS (
    -- further thresholds: crossing one of them (or a rise in severity) is an escalation
    SELECT *, CASE
        WHEN kind IN ('utilization_high', 'load_factor_high', 'centre_load_factor_high')
            THEN (value > 0.85)::INT + (value > 1.0)::INT + (value > 1.2)::INT
        WHEN kind = 'capacity_breach' THEN (value <= 180)::INT + (value <= 90)::INT + (value <= 30)::INT + (value <= 0)::INT
        WHEN kind = 'customs_slow' THEN (value < 0.80)::INT + (value < 0.60)::INT + (value < 0.40)::INT
        WHEN kind = 'stay_slow' THEN (value > 1.5)::INT + (value > 2.0)::INT + (value > 3.0)::INT
        ELSE 0 END AS band
    FROM (SELECT true AS tonight, *, NULL::DATE AS first_fired FROM alerts
          UNION ALL BY NAME
          SELECT false AS tonight, as_of_date, severity, office_code, kind, value, threshold,
                 message_zh, message_en, direction, coalesce(first_fired, as_of_date) AS first_fired
          FROM previous)
),
stated AS (
    SELECT t.as_of_date, t.severity, t.office_code, t.kind, t.value, t.threshold,
           t.message_zh, t.message_en, t.direction,
           CASE WHEN b.kind IS NULL THEN 'new'
                WHEN (t.severity = 'critical' AND b.severity <> 'critical') OR t.band > b.band
                    THEN 'escalated'
                ELSE 'continuing' END AS state,
           coalesce(b.first_fired, t.as_of_date) AS first_fired,
           b.severity AS previous_severity, b.value AS previous_value
    FROM banded t
    LEFT JOIN banded b
      ON NOT b.tonight AND b.office_code = t.office_code AND b.kind = t.kind
     AND b.direction IS NOT DISTINCT FROM t.direction
    WHERE t.tonight
    UNION ALL
    SELECT run.run_day, 'info', b.office_code, b.kind, NULL, b.threshold,
           '已解除：' || b.message_zh, 'resolved: ' || b.message_en, b.direction,
           'resolved', b.first_fired, b.severity, b.value
    FROM banded b, run
    WHERE NOT b.tonight AND NOT EXISTS (
        SELECT 1 FROM banded t WHERE t.tonight AND t.office_code = b.office_code
           AND t.kind = b.kind AND t.direction IS NOT DISTINCT FROM b.direction)
)
SELECT *, message_zh || ' / ' || message_en AS message FROM stated
