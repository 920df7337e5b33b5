-- Cross-table facts the mart suites check (national totals equal the sum of offices).
CREATE SCHEMA IF NOT EXISTS mart_checks;
CREATE OR REPLACE TABLE mart_checks.national_vs_offices AS
SELECT n.report_date, n.direction,
       coalesce(n.items_received, 0) AS national_received,
       coalesce(o.items_received, 0) AS offices_received,
       n.offices_reporting, coalesce(o.offices, 0) AS offices_counted
FROM mart.national_daily n
LEFT JOIN (SELECT report_date, direction, sum(items_received) AS items_received,
                  count(DISTINCT office_code) AS offices
           FROM mart.office_daily WHERE reported GROUP BY ALL) o
  USING (report_date, direction);

-- Supervision centres: declarations released in a day cannot exceed those lodged that day
-- plus those pending at the end of the previous day.
CREATE OR REPLACE TABLE mart_checks.centre_releases AS
SELECT c.centre_code, c.report_date, c.direction, c.regime, c.declarations_released,
       c.declarations_lodged + coalesce(p.pending_close, 0) AS releasable
FROM mart.centre_daily c
LEFT JOIN mart.centre_daily p
  ON p.centre_code = c.centre_code AND p.direction = c.direction AND p.regime = c.regime
 AND p.report_date = c.report_date - 1
WHERE c.reported
  AND c.declarations_released IS NOT NULL AND c.declarations_lodged IS NOT NULL;
