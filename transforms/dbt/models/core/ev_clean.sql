-- Feed C rows of tonight's batch that passed the gate, with their file's delivery order.
{{ config(schema='work', materialized='view') }}
{{ clean_rows('item_events') }}
