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

-- Tracking events of the items this night touched, in the order of the spec at each office:
-- EMD <= EDB <= EDC <= EMF (import) and EMB <= EXA <= EXC <= EMC (export), 1 hour of tolerance
-- for clocks that disagree.
CREATE OR REPLACE TABLE mart_checks.event_order AS
WITH firsts AS (
    SELECT item_id, office_code,
           min(event_utc) FILTER (WHERE event_code = 'EMD') AS emd,
           min(event_utc) FILTER (WHERE event_code = 'EDB') AS edb,
           min(event_utc) FILTER (WHERE event_code = 'EDC') AS edc,
           min(event_utc) FILTER (WHERE event_code = 'EMF') AS emf,
           min(event_utc) FILTER (WHERE event_code = 'EMB') AS emb,
           min(event_utc) FILTER (WHERE event_code = 'EXA') AS exa,
           min(event_utc) FILTER (WHERE event_code = 'EXC') AS exc,
           min(event_utc) FILTER (WHERE event_code = 'EMC') AS emc
    FROM work.touched_events
    GROUP BY ALL
),
steps AS (
    SELECT item_id, office_code,
           [emd, edb, edc, emf] AS import_steps, [emb, exa, exc, emc] AS export_steps
    FROM firsts
)
SELECT item_id, office_code,
       -- every known step is no earlier than the latest known step before it, less 1 hour
       list_bool_and(list_transform(range(1, 4), lambda i:
           coalesce(import_steps[i + 1] >= list_max(list_filter(import_steps[1:i], lambda x: x IS NOT NULL)) - INTERVAL 1 HOUR, true)))
       AND list_bool_and(list_transform(range(1, 4), lambda i:
           coalesce(export_steps[i + 1] >= list_max(list_filter(export_steps[1:i], lambda x: x IS NOT NULL)) - INTERVAL 1 HOUR, true)))
           AS in_order
FROM steps;

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
