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
