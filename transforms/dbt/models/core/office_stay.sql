-- The stay of each item at an office of exchange, step by step (WCO Time Release Study),
-- recomputed for the items tonight touched. Runs after core/clearance.sql: presented and
-- released are that model's, joined here, never redefined.
--   import: arrival = EMD, departure = EMF; export: arrival = EMB, departure = EMC;
--   departure = the earliest departure event at the office at or after released (when the
--               item was released there), else its earliest departure event there;
--   arrival   = the earliest arrival event at the office at or before departure.
-- depends_on: {{ ref('touched_items') }}
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="item_id IN (SELECT item_id FROM work.touched_items)",
          pre_hook="{{ record_pending_dates(['departure_date']) }}",
          post_hook="{{ record_pending_dates(['departure_date']) }}") }}
WITH legs AS (
    SELECT item_id, office_code, event_code, event_utc, event_local,
           CASE WHEN event_code IN ('EMD', 'EMF') THEN 'inbound' ELSE 'outbound' END AS direction,
           event_code IN ('EMF', 'EMC') AS is_departure
    FROM {{ ref('touched_events') }}
    WHERE event_code IN ('EMD', 'EMF', 'EMB', 'EMC')
      AND office_code IN (SELECT office_code FROM {{ ref('core_offices') }}
                            WHERE office_type IN ('exchange_office', 'exchange_station'))
),
departed AS (
    SELECT l.item_id, l.office_code, l.direction,
           any_value(c.presented_utc) AS presented_utc, any_value(c.released_utc) AS released_utc,
           any_value(c.dwell_h) AS dwell_h,
           min(l.event_utc) FILTER (WHERE l.event_utc >= c.released_utc) AS after_release_utc,
           arg_min(l.event_local, l.event_utc) FILTER (WHERE l.event_utc >= c.released_utc)
               AS after_release_local,
           min(l.event_utc) AS first_utc,
           arg_min(l.event_local, l.event_utc) AS first_local
    FROM legs l
    LEFT JOIN {{ ref('clearance') }} c USING (item_id, office_code, direction)
    WHERE l.is_departure
    GROUP BY ALL
),
stay AS (
    SELECT d.*,
           coalesce(d.after_release_utc, d.first_utc) AS departure_utc,
           CASE WHEN d.after_release_utc IS NOT NULL THEN d.after_release_local ELSE d.first_local END
               AS departure_local
    FROM departed d
),
arrivals AS (
    SELECT item_id, office_code, direction, list(event_utc) AS times
    FROM legs WHERE NOT is_departure GROUP BY ALL
),
arrived AS (
    SELECT s.*, list_min(list_filter(a.times, lambda t: t <= s.departure_utc)) AS arrival_utc,
           s.released_utc IS NOT NULL AND s.released_utc <= s.departure_utc AS released_before
    FROM stay s LEFT JOIN arrivals a USING (item_id, office_code, direction)
)
SELECT
    item_id, office_code, direction, arrival_utc,
    presented_utc, CASE WHEN released_before THEN released_utc END AS released_utc, departure_utc,
    departure_local::DATE AS departure_date,
    CASE WHEN released_before AND arrival_utc <= presented_utc
         THEN (epoch(presented_utc) - epoch(arrival_utc)) / 3600.0 END AS to_customs_h,
    CASE WHEN released_before THEN dwell_h END AS customs_h,
    CASE WHEN released_before
         THEN (epoch(departure_utc) - epoch(released_utc)) / 3600.0 END AS after_release_h,
    (epoch(departure_utc) - epoch(arrival_utc)) / 3600.0 AS stay_h
FROM arrived
