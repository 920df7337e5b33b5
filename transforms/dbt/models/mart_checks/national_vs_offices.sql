-- mart_checks.national_vs_offices: the national headline beside the sum of the reporting
-- offices' rows, per day and direction, for the mart_national_daily suite (they must agree).
WITH offices AS (
    SELECT report_date, direction, sum(items_received) AS items_received,
           count(DISTINCT office_code) AS offices
    FROM {{ ref('office_daily') }}
    WHERE reported
    GROUP BY ALL
)
SELECT n.report_date, n.direction,
       coalesce(n.items_received, 0) AS national_received,
       coalesce(o.items_received, 0) AS offices_received,
       n.offices_reporting, coalesce(o.offices, 0) AS offices_counted
FROM {{ ref('national_daily') }} n
LEFT JOIN offices o USING (report_date, direction)
