-- Feed B: same redelivery rule as feed A, per centre and day.
CREATE OR REPLACE TEMP TABLE cc_winner AS
SELECT centre_code, report_date, arg_max(_file_id, file_order) AS _file_id
FROM work.centre_clean GROUP BY centre_code, report_date;

CREATE OR REPLACE TEMP TABLE cc_replaced AS
SELECT DISTINCT c.file_id, w._file_id AS by_file
FROM core.centre_rows c JOIN temp.cc_winner w USING (centre_code, report_date)
UNION
SELECT DISTINCT e._file_id, w._file_id
FROM work.centre_clean e JOIN temp.cc_winner w USING (centre_code, report_date)
WHERE e._file_id <> w._file_id;

DELETE FROM core.centre_rows c USING temp.cc_winner w
WHERE c.centre_code = w.centre_code AND c.report_date = w.report_date;

INSERT INTO core.centre_rows
SELECT e._file_id, e._line, e.report_date, e.centre_code, e.direction, e.regime,
       e.declarations_lodged, e.declarations_released, e.declarations_inspected,
       e.declarations_held, e.declarations_rejected, e.items_declared, e.declared_value_cny,
       e.release_hours_total, e.pending_close, e._extra
FROM work.centre_clean e JOIN temp.cc_winner w USING (centre_code, report_date, _file_id);

INSERT OR IGNORE INTO core.pending_dates SELECT DISTINCT report_date FROM temp.cc_winner;
