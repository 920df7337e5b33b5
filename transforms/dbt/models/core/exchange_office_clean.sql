-- Feed A rows of the batch that passed the gate.
{{ config(schema='work', materialized='table') }}
{{ clean_rows('exchange_office') }}
