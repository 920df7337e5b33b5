-- Feed B rows of the batch, typed by the readers, with the reference facts the rules need.
CREATE OR REPLACE TABLE staging.customs_centre AS
SELECT
    row_number() OVER (ORDER BY r._file_id, r._line) AS _row_id,
    r.*,
    EXISTS (
        SELECT 1 FROM temp.offices o
        WHERE o.office_code = r.centre_code
          AND o.office_type = 'express_supervision_centre'
          AND r.report_date BETWEEN o.valid_from AND coalesce(o.valid_to, DATE '9999-12-31')
    ) AS centre_known
FROM staging.raw_customs_centre r;
