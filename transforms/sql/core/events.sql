-- Feed C: at-least-once delivery. An event is (item_id, event_code, event_utc, office_code);
-- the first copy in file order is loaded, every other copy (in the batch or in history) is a
-- duplicate. History is read for the batch's event days only (the key holds event_utc):
-- core_build fills temp.history_known with those days' events of the batch's items.
CREATE OR REPLACE TEMP TABLE ev_clean AS
SELECT s.* EXCLUDE (office_status, office_tz, time_window), bf.file_order
FROM staging.item_events s
JOIN staging.batch_files bf USING (_file_id)
WHERE s._file_id NOT IN (SELECT _file_id FROM work.quarantined_files)
  AND NOT EXISTS (SELECT 1 FROM work.quarantined_rows q
                  WHERE q._file_id = s._file_id AND q._line = s._line);

CREATE OR REPLACE TEMP TABLE batch_items AS SELECT DISTINCT item_id FROM temp.ev_clean;
