-- The reference the batch is checked against: the delivered one when it passed its rules,
-- else the one in force.
CREATE OR REPLACE TEMP TABLE offices AS
SELECT office_code, office_type, name_zh, name_en, province, city, tz,
       capacity_in_per_day, capacity_out_per_day, valid_from, valid_to
FROM staging.reference
WHERE (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted)
UNION ALL
SELECT * FROM core.offices
WHERE NOT (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted);

CREATE OR REPLACE TEMP TABLE office_tz AS
SELECT office_code, arg_max(tz, valid_from) AS tz FROM temp.offices GROUP BY office_code;
