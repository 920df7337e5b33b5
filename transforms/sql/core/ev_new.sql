-- The night's new events: the first copy of each event key in the batch that the history
-- does not hold yet.
CREATE OR REPLACE TEMP TABLE ev_new AS
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
              FROM temp.ev_clean)
        GROUP BY item_id, event_code, event_utc, office_code
    )
)
SELECT f.* FROM first_copy f
ANTI JOIN temp.history_known k
    ON k.item_id = f.item_id AND k.event_code = f.event_code
   AND k.event_utc = f.event_utc AND k.office_code = f.office_code;

CREATE OR REPLACE TEMP TABLE touched_items AS SELECT DISTINCT item_id FROM temp.ev_new;
-- Touched items without events in state: new, or closed (core_build reads a closed item's
-- events back from the history into temp.history_reopened).
CREATE OR REPLACE TEMP TABLE reopen_candidates AS
SELECT item_id FROM temp.touched_items t
ANTI JOIN core.open_events o ON o.item_id = t.item_id;
