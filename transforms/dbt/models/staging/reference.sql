-- offices.csv as delivered, with the facts its file rules need (checked first by the quality
-- gate: it decides what "known office" means for the rest of the batch).
WITH raw AS (
    SELECT * REPLACE (coalesce(nullif(trim(tz), ''), 'Asia/Shanghai') AS tz)
    FROM {{ source('batch', 'raw_reference') }}
)
SELECT
    row_number() OVER (ORDER BY r._file_id, r._line) AS _row_id,
    r.*,
    EXISTS (
        SELECT 1 FROM raw o
        WHERE o._file_id = r._file_id AND o.office_code = r.office_code AND o._line <> r._line
          AND o.valid_from <= coalesce(r.valid_to, DATE '9999-12-31')
          AND r.valid_from <= coalesce(o.valid_to, DATE '9999-12-31')
    ) AS "overlaps",
    r.tz IN (SELECT name FROM pg_timezone_names()) AS tz_known
FROM raw r
