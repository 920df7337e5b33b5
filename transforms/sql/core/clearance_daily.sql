-- Daily presented / released counts, recomputed for the pending dates only.
DELETE FROM core.clearance_daily WHERE day IN (SELECT d FROM core.pending_dates);

INSERT INTO core.clearance_daily
SELECT office_code, direction, day, sum(n_presented), sum(n_released)
FROM (
    SELECT office_code, direction, presented_date AS day, 1 AS n_presented, 0 AS n_released
    FROM core.clearance WHERE presented_date IN (SELECT d FROM core.pending_dates)
    UNION ALL
    SELECT office_code, direction, release_date, 0, 1
    FROM core.clearance WHERE release_date IN (SELECT d FROM core.pending_dates)
)
GROUP BY ALL;
