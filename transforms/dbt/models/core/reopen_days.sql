-- Touched items with no event in the state from before tonight: new, or closed (no event for
-- CLEARCAP_ITEM_WINDOW_DAYS). A closed item's days come from the history's item index
-- (`item_day_files`: its months from CLEARCAP_ITEM_REOPEN_DAYS before the night's oldest event,
-- a bounded read); core_build then reads those days' events back into open_events. Tonight's
-- own rows of open_events are left out, so a retry after open_events committed finds the same.
{{ config(schema='work', materialized='table') }}
{%- set open_events = load_relation(ref('open_events')) %}
WITH candidates AS (
    SELECT item_id FROM {{ ref('touched_items') }}
    {%- if open_events is not none %}
    ANTI JOIN (SELECT item_id FROM {{ ref('open_events') }}
               WHERE batch IS DISTINCT FROM getvariable('batch')
                 AND reopened_by IS DISTINCT FROM getvariable('batch')) o USING (item_id)
    {%- endif %}
)
SELECT h.item_id, min(h.first_day) AS first_day, max(h.last_day) AS last_day
FROM read_parquet(getvariable('item_day_files')) h
SEMI JOIN candidates c ON h.item_id = c.item_id
GROUP BY h.item_id
