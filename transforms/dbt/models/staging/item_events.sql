-- Feed C events of the batch on one clock: event_utc (absolute) and event_local (the office's
-- wall clock). A time without offset is local time of the office's time zone (feeds spec), the
-- tz of the offices.csv row valid on that day.
WITH located AS (
    SELECT
        -- the raw table is filled by one INSERT per run, so rowid is the file order; a window
        -- over the whole batch would materialise every column in one thread
        r.rowid + 1 AS _row_id,
        r.*,
        -- An event at a Chinese site (a code of offices.csv) must be at an office of exchange
        -- or station valid at that time; any other code of the IMPC shape outside CN is the
        -- other end of a lane (foreign offices are not in offices.csv).
        CASE
            WHEN p.office_type IN ('exchange_office', 'exchange_station') THEN 'reference'
            WHEN p.office_code IS NOT NULL THEN 'not_an_office_of_exchange'
            WHEN t.office_code IS NOT NULL AND r.event_local IS NULL THEN 'reference'  -- invalid_timestamp says why
            WHEN t.office_code IS NOT NULL THEN 'outside_validity'
            WHEN r.office_code NOT LIKE 'CN%'
                 AND regexp_full_match(r.office_code, '[A-Z]{2}[A-Z0-9]{4}') THEN 'foreign'
            ELSE 'unknown'
        END AS office_status,
        -- Foreign offices: the zone of the IMPC city (country + IATA code) where a country spans
        -- several, else the country's zone (seed tables); UTC when the country is unknown.
        coalesce(p.tz, t.tz, ct.tz, c.tz, 'UTC') AS office_tz
    FROM {{ source('batch', 'raw_item_events') }} r
    LEFT JOIN {{ ref('office_periods') }} p
        ON p.office_code = r.office_code AND p.has_offset = (r.event_offset_min IS NOT NULL)
       AND coalesce(r.event_local - to_minutes(r.event_offset_min), r.event_local) >= p."from"
       AND coalesce(r.event_local - to_minutes(r.event_offset_min), r.event_local) < p."until"
    LEFT JOIN {{ ref('office_tz') }} t ON t.office_code = r.office_code
    LEFT JOIN {{ ref('city_tz') }} ct ON ct.impc_prefix = left(r.office_code, 5)
    LEFT JOIN {{ ref('country_tz') }} c ON c.country = left(r.office_code, 2)
),
clocked AS (
    SELECT
        *,
        CASE
            WHEN event_offset_min IS NOT NULL THEN event_local - to_minutes(event_offset_min)
            ELSE timezone(office_tz, event_local)::TIMESTAMP
        END AS event_utc
    FROM located
),
localised AS (
    SELECT
        * REPLACE (
            CASE WHEN event_offset_min IS NULL THEN event_local
                 ELSE timezone(office_tz, event_utc::TIMESTAMPTZ) END AS event_local
        )
    FROM clocked
)
-- Time window (docs/architecture.md, "Event time window"): late delivery is normal, the future
-- is not. NULL when the event is inside it, else why not (rule timestamp_out_of_window).
SELECT
    e.*,
    CASE
        WHEN e.event_local::DATE > b.run_date + CASE WHEN e.event_offset_min IS NULL THEN 0 ELSE 1 END
            THEN format('local date {} is after the night being run ({}{})', e.event_local::DATE,
                        b.run_date, CASE WHEN e.event_offset_min IS NULL THEN '' ELSE ' + 1 day' END)
        WHEN e.event_local::DATE < e.folder_date - getvariable('event_lookback_days')::INTEGER
            THEN format('local date {} is more than {} days before its folder date {}',
                        e.event_local::DATE, getvariable('event_lookback_days'), e.folder_date)
    END AS time_window
FROM localised e, {{ source('batch', 'batch_meta') }} b
