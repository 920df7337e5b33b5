-- Tracking events of the items this night touched, in the order of the spec at each office:
-- EMD <= EDB <= EDC <= EMF (import) and EMB <= EXA <= EXC <= EMC (export), 1 hour of tolerance
-- for clocks that disagree.
{{ config(schema='work', materialized='table') }}
WITH firsts AS (
    SELECT item_id, office_code,
           min(event_utc) FILTER (WHERE event_code = 'EMD') AS emd,
           min(event_utc) FILTER (WHERE event_code = 'EDB') AS edb,
           min(event_utc) FILTER (WHERE event_code = 'EDC') AS edc,
           min(event_utc) FILTER (WHERE event_code = 'EMF') AS emf,
           min(event_utc) FILTER (WHERE event_code = 'EMB') AS emb,
           min(event_utc) FILTER (WHERE event_code = 'EXA') AS exa,
           min(event_utc) FILTER (WHERE event_code = 'EXC') AS exc,
           min(event_utc) FILTER (WHERE event_code = 'EMC') AS emc
    FROM {{ ref('touched_events') }}
    GROUP BY ALL
),
steps AS (
    SELECT item_id, office_code,
           [emd, edb, edc, emf] AS import_steps, [emb, exa, exc, emc] AS export_steps
    FROM firsts
)
SELECT item_id, office_code,
       -- every known step is no earlier than the latest known step before it, less 1 hour
       list_bool_and(list_transform(range(1, 4), lambda i:
           coalesce(import_steps[i + 1] >= list_max(list_filter(import_steps[1:i], lambda x: x IS NOT NULL)) - INTERVAL 1 HOUR, true)))
       AND list_bool_and(list_transform(range(1, 4), lambda i:
           coalesce(export_steps[i + 1] >= list_max(list_filter(export_steps[1:i], lambda x: x IS NOT NULL)) - INTERVAL 1 HOUR, true)))
           AS in_order
FROM steps
