{{ config(materialized='ephemeral') }}  {#- tiny, read once by item_events: inlined #}
-- Each validity period as a half-open interval on both clocks events come in: wall time (a
-- naive event time) and UTC (a time with an offset; the period starts at midnight in its own
-- tz). Where a period is followed directly by the next one of the same office, it ends in UTC
-- where the next starts, so a change of tz leaves neither a gap nor an overlap of instants.
WITH p AS (
    SELECT office_code, office_type, tz, valid_from, valid_to,
           lead(valid_from) OVER w AS next_from, lead(tz) OVER w AS next_tz
    FROM {{ ref('offices_effective') }}
    WINDOW w AS (PARTITION BY office_code ORDER BY valid_from)
),
bounds AS (
    SELECT office_code, office_type, tz,
           valid_from::TIMESTAMP AS local_from,
           coalesce((valid_to + 1)::TIMESTAMP, 'infinity'::TIMESTAMP) AS local_until,
           timezone(tz, valid_from::TIMESTAMP)::TIMESTAMP AS utc_from,
           CASE WHEN valid_to IS NULL THEN 'infinity'::TIMESTAMP
                WHEN next_from = valid_to + 1 THEN timezone(next_tz, next_from::TIMESTAMP)::TIMESTAMP
                ELSE timezone(tz, (valid_to + 1)::TIMESTAMP)::TIMESTAMP END AS utc_until
    FROM p
)
SELECT office_code, office_type, tz, false AS has_offset, local_from AS "from", local_until AS "until"
FROM bounds
UNION ALL
SELECT office_code, office_type, tz, true, utc_from, utc_until FROM bounds
