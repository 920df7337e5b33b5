-- The international leg of each outbound item the batch touched: dispatch = its last EMC at a
-- Chinese office; arrival = its first EMD at an office in the destination country after it.
-- depends_on: {{ ref('touched_items') }}
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="item_id IN (SELECT item_id FROM work.touched_items)",
          pre_hook="{{ record_pending_dates(['dispatch_date']) }}",
          post_hook="{{ record_pending_dates(['dispatch_date']) }}") }}
WITH dispatched AS (
    SELECT
        item_id,
        arg_max(office_code, event_utc) AS origin_office,
        max(event_utc) AS dispatch_utc,
        arg_max(event_local, event_utc) AS dispatch_local,
        arg_max(destination_country, event_utc) AS emc_destination
    FROM {{ ref('touched_events') }}
    WHERE event_code = 'EMC' AND office_code LIKE 'CN%'
    GROUP BY item_id
),
stated AS (
    SELECT item_id, mode(destination_country) AS stated_destination
    FROM {{ ref('touched_events') }}
    WHERE destination_country IS NOT NULL AND item_id IN (SELECT item_id FROM dispatched)
    GROUP BY item_id
),
destination AS (
    -- the dispatch event's own field first, else what the item's other events say
    SELECT d.*, coalesce(d.emc_destination, s.stated_destination) AS destination_country
    FROM dispatched d LEFT JOIN stated s USING (item_id)
),
arrival AS (
    SELECT d.item_id, min(e.event_utc) AS arrival_utc
    FROM destination d
    JOIN {{ ref('touched_events') }} e
      ON e.item_id = d.item_id AND e.event_code = 'EMD'
     AND left(e.office_code, 2) = d.destination_country AND e.event_utc > d.dispatch_utc
    GROUP BY d.item_id
)
SELECT d.item_id, d.origin_office, d.destination_country, d.dispatch_utc,
       d.dispatch_local::DATE AS dispatch_date, a.arrival_utc,
       (epoch(a.arrival_utc) - epoch(d.dispatch_utc)) / 86400.0 AS leg_days
FROM destination d LEFT JOIN arrival a USING (item_id)
