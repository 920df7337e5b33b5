-- The operating days whose mart rows this run recomputes: every pending date, every day after
-- the last built night up to this one (new days of the reporting grid), and the days between,
-- since 7-, 28- and 90-day windows and cumulative counts carry a change forward.
CREATE OR REPLACE TABLE work.refresh_days AS
WITH bounds AS (
    SELECT
        least(
            (SELECT min(d) FROM core.pending_dates),
            (SELECT max(run_date) + 1 FROM core.runs
             WHERE finished_at IS NOT NULL AND run_date < getvariable('run_date')),
            CASE WHEN NOT EXISTS (SELECT 1 FROM core.runs WHERE finished_at IS NOT NULL)
                 THEN getvariable('run_date') END
        ) AS lo,
        greatest((SELECT max(d) FROM core.pending_dates), getvariable('run_date')) AS hi
)
SELECT CAST(d AS DATE) AS d
FROM bounds, range(bounds.lo, bounds.hi + 1, INTERVAL 1 DAY) AS t(d)
WHERE bounds.lo IS NOT NULL;
