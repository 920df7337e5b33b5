-- Every item's clearance the marts read: the open items' rows and the closed items' (macro
-- open_and_closed).
{{ config(materialized='ephemeral') }}
{{ open_and_closed('clearance') }}
