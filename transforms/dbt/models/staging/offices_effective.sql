-- The reference the batch is checked against and the core applies: the delivered one when it
-- passed its rules, else the one in force, i.e. this table as the last night that delivered
-- an accepted reference left it. Persistent for that reason (rebuilt from itself, never
-- rebuilt whole), so that staging needs nothing of the core layer.
{{ config(materialized='incremental', incremental_strategy='refresh', refresh='true',
          full_refresh=false) }}
SELECT office_code, office_type, name_zh, name_en, province, city, tz,
       capacity_in_per_day, capacity_out_per_day, valid_from, valid_to
FROM {{ ref('reference') }}
WHERE {{ reference_accepted() }}
{% if is_incremental() %}
UNION ALL
SELECT office_code, office_type, name_zh, name_en, province, city, tz,
       capacity_in_per_day, capacity_out_per_day, valid_from, valid_to
FROM {{ this }}
WHERE NOT {{ reference_accepted() }}
{% endif %}
