-- Feed C: at-least-once delivery. An event is (item_id, event_code, event_utc, office_code);
-- the first copy in (file order, line) is loaded, every other copy, in the batch or in the
-- history, is a duplicate. The history is read for the batch's event days only (the key holds
-- event_utc): `known_files` lists those days' files (transforms/core_build.py), never more.
{{ config(schema='work', materialized='table') }}
WITH first_copy AS (
    -- a hash aggregate, not a window: the copy first in (file order, line) per event key
    SELECT item_id, event_code, event_utc, office_code, UNNEST(first_ev)
    FROM (
        SELECT item_id, event_code, event_utc, office_code,
               arg_min(ev, (file_order, _line)) AS first_ev
        FROM (SELECT item_id, event_code, event_utc, office_code, file_order, _line,
                 struct_pack(_file_id, _line, event_local, next_office_code, mail_class,
                             origin_country, destination_country, weight_g, retention_code,
                             reason_code, action_code) AS ev
              FROM {{ ref('ev_clean') }})
        GROUP BY item_id, event_code, event_utc, office_code
    )
),
known AS (
    -- the history's events of the batch's items on the batch's event days
    SELECT h.item_id, h.event_code, h.event_utc, h.office_code
    FROM read_parquet(getvariable('known_files')) h
    SEMI JOIN (SELECT DISTINCT item_id FROM {{ ref('ev_clean') }}) b ON h.item_id = b.item_id
)
SELECT f.* FROM first_copy f
ANTI JOIN known k
    ON k.item_id = f.item_id AND k.event_code = f.event_code
   AND k.event_utc = f.event_utc AND k.office_code = f.office_code
