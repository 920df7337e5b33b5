-- mart.alerts: what needs attention tomorrow morning, one row per triggered condition of this
-- run (as_of_date = the run's operating day), in Chinese and English.
WITH run AS (SELECT getvariable('run_date')::DATE AS run_day),
busy AS (
    SELECT report_date, office_code, direction, 'utilization_high' AS kind, utilization AS value
    FROM mart.office_daily, run WHERE report_date = run.run_day AND utilization > 0.85
    UNION ALL
    SELECT report_date, office_code, direction, 'load_factor_high', load_factor
    FROM mart.office_daily, run WHERE report_date = run.run_day AND load_factor > 0.85
    UNION ALL
    SELECT DISTINCT report_date, centre_code, direction, 'centre_load_factor_high', load_factor
    FROM mart.centre_daily, run WHERE report_date = run.run_day AND load_factor > 0.85
),
breach AS (
    SELECT office_code, direction, breach_date, breach_date - run.run_day AS days_left
    FROM mart.capacity_outlook, run
    WHERE capacity_outlook.as_of_date = run.run_day
      AND breach_date <= run.run_day + 180
),
slow AS (
    SELECT office_code, direction, share_within_24h
    FROM mart.customs_dwell_daily, run
    WHERE release_date = run.run_day AND n_released > 0 AND share_within_24h < 0.80
),
missing AS (
    SELECT DISTINCT office_code FROM mart.office_daily, run
    WHERE report_date = run.run_day AND NOT reported
    UNION
    SELECT DISTINCT centre_code FROM mart.centre_daily, run
    WHERE report_date = run.run_day AND NOT reported
),
quarantined AS (
    SELECT path, feed, message FROM core.ledger, run
    WHERE ledger.run_date = run.run_day AND status = 'quarantined' AND feed <> 'reference'
),
-- A rejected reference changes nothing (the one in force stays), which is why it must be seen.
reference_rejected AS (
    SELECT path, message,
           (SELECT max(l.run_date) FROM core.ledger l
            WHERE l.feed = 'reference' AND l.status = 'loaded') AS in_force_since
    FROM core.ledger, run
    WHERE ledger.run_date = run.run_day AND status = 'quarantined' AND feed = 'reference'
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
              value) AS message_en
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
       END
FROM breach, run
UNION ALL
SELECT run.run_day, 'warning', office_code, 'customs_slow', share_within_24h, 0.80,
       format('{} {}：24 小时内通关比例 {:.1f}%，低于 80%', office_code, direction, 100 * share_within_24h),
       format('{} {}: {:.1f}% cleared within 24 h, below 80%', office_code, direction, 100 * share_within_24h)
FROM slow, run
UNION ALL
SELECT run.run_day, 'warning', office_code, 'report_missing', NULL, NULL,
       format('{}：{} 日报未收到', office_code, run.run_day),
       format('{}: no daily report for {}', office_code, run.run_day)
FROM missing, run
UNION ALL
SELECT run.run_day, 'warning', NULL, 'file_quarantined', NULL, NULL,
       format('文件已隔离：{}（{}）', path, message),
       format('file quarantined: {} ({})', path, message)
FROM quarantined, run
UNION ALL
SELECT run.run_day, 'critical', NULL, 'reference_rejected', NULL, NULL,
       format('参考表已拒收：{}（{}），继续使用 {} 载入的参考表', path, message,
              coalesce(in_force_since::VARCHAR, '此前')),
       format('reference rejected: {} ({}); the reference loaded on {} stays in force', path,
              message, coalesce(in_force_since::VARCHAR, 'an earlier run'))
FROM reference_rejected, run
)
SELECT *, message_zh || ' / ' || message_en AS message FROM alerts
