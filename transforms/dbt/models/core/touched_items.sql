-- The items whose timelines tonight rebuilds: those with a new event, and on a `clearcap
-- rebuild` every item with an event on the rebuilt days (`rebuild_files`: those days' history
-- files; on a night only the empty typed file).
{{ config(schema='work', materialized='table') }}
SELECT DISTINCT item_id FROM {{ ref('ev_new') }}
UNION
SELECT DISTINCT item_id FROM read_parquet(getvariable('rebuild_files'))
