-- The operating days whose mart rows this run recomputes: every pending date and, on a night
-- not built before, every day after the last built night up to this one (new days of the
-- reporting grid), and all days between, since 7-, 28- and 90-day windows and cumulative
-- counts carry a change forward. A change carries forward to the latest night already built
-- too: a rerun or backfill of an older night leaves no later day, week or month stale. A rerun
-- with nothing new recomputes nothing.
WITH night AS (
    SELECT
        getvariable('run_date')::DATE AS d,
        NOT EXISTS (SELECT 1 FROM {{ source('core', 'runs') }} WHERE run_date = getvariable('run_date')
                    AND finished_at IS NOT NULL) AS is_new,
        EXISTS (SELECT 1 FROM {{ ref('pending_days') }}) AS changed,
        (SELECT max(run_date) FROM {{ source('core', 'runs') }} WHERE finished_at IS NOT NULL) AS last_built
),
bounds AS (
    SELECT
        least(
            (SELECT min(d) FROM {{ ref('pending_days') }}),
            CASE WHEN night.is_new THEN coalesce(
                (SELECT max(run_date) + 1 FROM {{ source('core', 'runs') }}
                 WHERE finished_at IS NOT NULL AND run_date < night.d), night.d) END
        ) AS lo,
        greatest(
            (SELECT max(d) FROM {{ ref('pending_days') }}),
            CASE WHEN night.is_new OR night.changed THEN night.d END,
            CASE WHEN night.changed THEN night.last_built END
        ) AS hi
    FROM night
)
SELECT CAST(d AS DATE) AS d
FROM bounds, range(bounds.lo, bounds.hi + 1, INTERVAL 1 DAY) AS t(d)
WHERE bounds.lo IS NOT NULL
