-- A delivered reference that passed its rules replaces the one in force, whole.
DELETE FROM core.offices
WHERE (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted);

INSERT INTO core.offices
SELECT office_code, office_type, name_zh, name_en, province, city, tz,
       capacity_in_per_day, capacity_out_per_day, valid_from, valid_to
FROM staging.reference
WHERE (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted);
