-- Feed A: the latest delivery of an office-day replaces earlier ones whole (feeds spec).
-- Later = a later run; within a run, the later file_order (modification time, then path).
CREATE OR REPLACE TEMP TABLE eo_winner AS
SELECT office_code, report_date, arg_max(_file_id, file_order) AS _file_id
FROM work.exchange_office_clean GROUP BY office_code, report_date;

-- Every earlier delivery of those office-days, in history or in this batch.
CREATE OR REPLACE TEMP TABLE eo_replaced AS
SELECT DISTINCT c.file_id, w._file_id AS by_file
FROM core.exchange_office_rows c JOIN temp.eo_winner w USING (office_code, report_date)
UNION
SELECT DISTINCT e._file_id, w._file_id
FROM work.exchange_office_clean e JOIN temp.eo_winner w USING (office_code, report_date)
WHERE e._file_id <> w._file_id;

DELETE FROM core.exchange_office_rows c USING temp.eo_winner w
WHERE c.office_code = w.office_code AND c.report_date = w.report_date;

INSERT INTO core.exchange_office_rows
SELECT e._file_id, e._line, e.report_date, e.office_code, e.direction, e.mail_class,
       e.items_received, e.items_dispatched, e.receptacles, e.weight_kg, e.items_presented,
       e.items_released, e.items_inspected, e.items_held, e.items_returned, e.backlog_close, e._extra
FROM work.exchange_office_clean e JOIN temp.eo_winner w USING (office_code, report_date, _file_id);

INSERT OR IGNORE INTO core.pending_dates SELECT DISTINCT report_date FROM temp.eo_winner;
