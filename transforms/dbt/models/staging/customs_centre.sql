-- Feed B rows of the batch, typed by the readers, with the reference facts the rules need.
SELECT
    row_number() OVER (ORDER BY r._file_id, r._line) AS _row_id,
    r.*,
    EXISTS (
        SELECT 1 FROM {{ ref('offices_effective') }} o
        WHERE o.office_code = r.centre_code
          AND o.office_type = 'express_supervision_centre'
          AND {{ valid_on('r.report_date', 'o') }}
    ) AS centre_known
FROM {{ source('batch', 'raw_customs_centre') }} r
