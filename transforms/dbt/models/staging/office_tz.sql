{{ config(materialized='ephemeral') }}  {#- tiny, read once by item_events: inlined #}
-- Every code of a Chinese site, with its latest tz (for events outside every validity period,
-- which are rejected but still get an instant).
SELECT office_code, arg_max(tz, valid_from) AS tz
FROM {{ ref('offices_effective') }}
GROUP BY office_code
