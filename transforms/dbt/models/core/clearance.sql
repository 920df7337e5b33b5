-- Time in customs per item, office and direction, recomputed for the items tonight touched.
-- presented = earliest EDB/EME (import) or EXA/EXB (export) at the office;
-- released  = earliest EDC (import) / EXC (export) at or after presented, else the earliest
--             EMF (import) / EMC (export) after presented (indicators spec, UPU PRIME rule).
-- depends_on: {{ ref('touched_items') }}
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="item_id IN (SELECT item_id FROM work.touched_items)",
          pre_hook="{{ record_pending_dates(['presented_date', 'release_date']) }}",
          post_hook="{{ record_pending_dates(['presented_date', 'release_date']) }}") }}
WITH events AS (
    -- customs at the offices of exchange of the reference, not at foreign offices or centres
    SELECT item_id, office_code, event_code, event_utc, event_local FROM {{ ref('touched_events') }}
    WHERE office_code IN (SELECT office_code FROM {{ ref('core_offices') }}
                          WHERE office_type IN ('exchange_office', 'exchange_station'))
),
presented AS (
    SELECT item_id, office_code,
           CASE WHEN event_code IN ('EDB', 'EME') THEN 'inbound' ELSE 'outbound' END AS direction,
           min(event_utc) AS presented_utc,
           arg_min(event_local, event_utc) AS presented_local
    FROM events
    WHERE event_code IN ('EDB', 'EME', 'EXA', 'EXB')
    GROUP BY ALL
),
released AS (
    SELECT
        p.item_id, p.office_code, p.direction, p.presented_utc, p.presented_local,
        min(e.event_utc) FILTER (WHERE e.event_code = if(p.direction = 'inbound', 'EDC', 'EXC')
                                   AND e.event_utc >= p.presented_utc) AS by_release,
        arg_min(e.event_local, e.event_utc) FILTER (
            WHERE e.event_code = if(p.direction = 'inbound', 'EDC', 'EXC')
              AND e.event_utc >= p.presented_utc) AS by_release_local,
        min(e.event_utc) FILTER (WHERE e.event_code = if(p.direction = 'inbound', 'EMF', 'EMC')
                                   AND e.event_utc > p.presented_utc) AS by_departure,
        arg_min(e.event_local, e.event_utc) FILTER (
            WHERE e.event_code = if(p.direction = 'inbound', 'EMF', 'EMC')
              AND e.event_utc > p.presented_utc) AS by_departure_local,
        list(e.event_utc) FILTER (WHERE e.event_code = if(p.direction = 'inbound', 'EME', 'EXB'))
            AS holds
    FROM presented p
    JOIN events e ON e.item_id = p.item_id AND e.office_code = p.office_code
    GROUP BY ALL
),
timeline AS (
    SELECT *,
           coalesce(by_release, by_departure) AS released_utc,
           CASE WHEN by_release IS NOT NULL THEN by_release_local ELSE by_departure_local END
               AS released_local
    FROM released
)
SELECT
    item_id, office_code, direction, presented_utc, released_utc,
    presented_local::DATE AS presented_date,
    released_local::DATE AS release_date,
    (epoch(released_utc) - epoch(presented_utc)) / 3600.0 AS dwell_h,
    -- held by customs between presented and released, both ends included
    coalesce(len(list_filter(holds, lambda h: h >= presented_utc
                                   AND (released_utc IS NULL OR h <= released_utc))) > 0, false)
        AS retained
FROM timeline
