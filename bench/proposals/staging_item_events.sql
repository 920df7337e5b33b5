-- PROPOSED replacement for transforms/sql/staging/item_events.sql (same output, measured in
-- bench/RESULTS.md). ICU's timezone() costs microseconds per row with a per-row zone name;
-- a zone's offset only changes on minute boundaries, so convert each distinct (zone, minute)
-- once and add the offset to every row (exact: offsets are whole minutes, sub-minute parts kept).
CREATE OR REPLACE TABLE staging.item_events AS
WITH located AS (
    SELECT
        row_number() OVER () AS _row_id,
        r.*,
        CASE
            WHEN t.office_code IS NOT NULL THEN 'reference'
            WHEN r.office_code NOT LIKE 'CN%'
                 AND regexp_full_match(r.office_code, '[A-Z]{2}[A-Z0-9]{4}') THEN 'foreign'
            ELSE 'unknown'
        END AS office_status,
        coalesce(t.tz, c.tz, 'UTC') AS office_tz
    FROM staging.raw_item_events r
    LEFT JOIN work.office_tz t ON t.office_code = r.office_code
    LEFT JOIN work.country_tz c ON c.country = left(r.office_code, 2)
),
to_utc AS (  -- local wall clock -> UTC, per zone and local minute
    SELECT office_tz, m, timezone(office_tz, m)::TIMESTAMP - m AS shift
    FROM (SELECT DISTINCT office_tz, date_trunc('minute', event_local) AS m
          FROM located WHERE event_offset_min IS NULL AND event_local IS NOT NULL)
),
clocked AS (
    SELECT l.*,
        CASE WHEN l.event_offset_min IS NOT NULL THEN l.event_local - to_minutes(l.event_offset_min)
             ELSE l.event_local + u.shift END AS event_utc
    FROM located l
    LEFT JOIN to_utc u ON l.event_offset_min IS NULL AND u.office_tz = l.office_tz
                      AND u.m = date_trunc('minute', l.event_local)
),
to_local AS (  -- UTC -> the office's wall clock, per zone and UTC minute
    SELECT office_tz, m, timezone(office_tz, m::TIMESTAMPTZ) - m AS shift
    FROM (SELECT DISTINCT office_tz, date_trunc('minute', event_utc) AS m
          FROM clocked WHERE event_offset_min IS NOT NULL AND event_utc IS NOT NULL)
)
SELECT c.* REPLACE (
        CASE WHEN c.event_offset_min IS NULL THEN c.event_local ELSE c.event_utc + v.shift END AS event_local)
FROM clocked c
LEFT JOIN to_local v ON c.event_offset_min IS NOT NULL AND v.office_tz = c.office_tz
                    AND v.m = date_trunc('minute', c.event_utc)
ORDER BY _row_id;
