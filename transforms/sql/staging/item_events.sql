-- Feed C events of the batch on one clock: event_utc (absolute) and event_local (the office's
-- wall clock). A time without offset is local time of the office's time zone (feeds spec).
CREATE OR REPLACE TABLE staging.item_events AS
WITH located AS (
    SELECT
        -- the raw table is filled by one INSERT per run, so rowid is the file order; a window
        -- over the whole batch would materialise every column in one thread
        r.rowid + 1 AS _row_id,
        r.*,
        CASE
            WHEN t.office_code IS NOT NULL THEN 'reference'
            WHEN r.office_code NOT LIKE 'CN%'
                 AND regexp_full_match(r.office_code, '[A-Z]{2}[A-Z0-9]{4}') THEN 'foreign'
            ELSE 'unknown'
        END AS office_status,
        -- Foreign offices: the zone of the IMPC city (country + IATA code) where a country spans
        -- several, else the country's zone (seed tables); UTC when the country is unknown.
        coalesce(t.tz, ct.tz, c.tz, 'UTC') AS office_tz
    FROM staging.raw_item_events r
    LEFT JOIN temp.office_tz t ON t.office_code = r.office_code
    LEFT JOIN temp.city_tz ct ON ct.impc_prefix = left(r.office_code, 5)
    LEFT JOIN temp.country_tz c ON c.country = left(r.office_code, 2)
),
clocked AS (
    SELECT
        *,
        CASE
            WHEN event_offset_min IS NOT NULL THEN event_local - to_minutes(event_offset_min)
            ELSE timezone(office_tz, event_local)::TIMESTAMP
        END AS event_utc
    FROM located
)
SELECT
    * REPLACE (
        CASE WHEN event_offset_min IS NULL THEN event_local
             ELSE timezone(office_tz, event_utc::TIMESTAMPTZ) END AS event_local
    )
FROM clocked;
