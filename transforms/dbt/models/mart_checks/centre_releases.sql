-- mart_checks.centre_releases: declarations a centre released in a day beside what it could
-- release (lodged that day plus pending at the end of the previous day), for the
-- mart_centre_releases suite.
SELECT c.centre_code, c.report_date, c.direction, c.regime, c.declarations_released,
       c.declarations_lodged + coalesce(p.pending_close, 0) AS releasable
FROM {{ ref('centre_daily') }} c
LEFT JOIN {{ ref('centre_daily') }} p
  ON p.centre_code = c.centre_code AND p.direction = c.direction AND p.regime = c.regime
 AND p.report_date = c.report_date - 1
WHERE c.reported
  AND c.declarations_released IS NOT NULL AND c.declarations_lodged IS NOT NULL
