-- Feed C: at-least-once delivery. An event is (item_id, event_code, event_utc, office_code);
-- the first copy in file order is loaded, every other copy (in the batch or in history) is a
-- duplicate. History is only read for the batch's items.
CREATE OR REPLACE TEMP TABLE ev_clean AS
SELECT s.* EXCLUDE (office_status, office_tz, time_window), bf.file_order
FROM staging.item_events s
JOIN staging.batch_files bf USING (_file_id)
WHERE s._file_id NOT IN (SELECT _file_id FROM temp.quarantined_files)
  AND NOT EXISTS (SELECT 1 FROM temp.quarantined_rows q
                  WHERE q._file_id = s._file_id AND q._line = s._line);

CREATE OR REPLACE TEMP TABLE batch_items AS SELECT DISTINCT item_id FROM temp.ev_clean;

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
                             reason_code, action_code, event_time) AS ev
              FROM temp.ev_clean)
        GROUP BY item_id, event_code, event_utc, office_code
    )
),
known AS (
    SELECT c.item_id, c.event_code, c.event_utc, c.office_code
    FROM core.events c SEMI JOIN temp.batch_items b ON c.item_id = b.item_id
)
SELECT f.* FROM first_copy f
ANTI JOIN known k
    ON k.item_id = f.item_id AND k.event_code = f.event_code
   AND k.event_utc = f.event_utc AND k.office_code = f.office_code;

INSERT INTO core.events
SELECT item_id, event_code, event_utc, office_code, event_local, next_office_code, mail_class,
       origin_country, destination_country, weight_g, retention_code, reason_code, action_code,
       event_time, _file_id, _line
FROM temp.ev_new;

CREATE OR REPLACE TEMP TABLE touched_items AS SELECT DISTINCT item_id FROM temp.ev_new;
CREATE OR REPLACE TEMP TABLE touched_events AS
SELECT c.* FROM core.events c SEMI JOIN temp.touched_items t ON c.item_id = t.item_id;
