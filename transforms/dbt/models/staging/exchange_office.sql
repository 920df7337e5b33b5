-- Feed A rows of the batch, typed by the readers, with the reference facts the rules need.
SELECT
    row_number() OVER (ORDER BY r._file_id, r._line) AS _row_id,
    r.*,
    EXISTS (
        SELECT 1 FROM {{ ref('offices_effective') }} o
        WHERE o.office_code = r.office_code
          AND o.office_type IN ('exchange_office', 'exchange_station')
          AND {{ valid_on('r.report_date', 'o') }}
    ) AS office_known
FROM {{ source('batch', 'raw_exchange_office') }} r
