-- The items tonight's new events touch: their timelines are rebuilt.
{{ config(schema='work', materialized='table') }}
SELECT DISTINCT item_id FROM {{ ref('ev_new') }}
