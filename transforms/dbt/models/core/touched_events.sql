-- Every event of the items tonight touched: the timelines' input.
{{ config(schema='work', materialized='table') }}
SELECT o.* FROM {{ ref('open_events') }} o SEMI JOIN {{ ref('touched_items') }} t ON o.item_id = t.item_id
