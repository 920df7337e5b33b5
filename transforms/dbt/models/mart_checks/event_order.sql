-- The order check of the items tonight touched (work.touched_event_order), for the mart suite
-- mart_event_order.
SELECT * FROM {{ ref('touched_event_order') }}
