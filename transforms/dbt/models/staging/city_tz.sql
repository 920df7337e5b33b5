-- The time zone of IMPC cities in countries that span several (seed
-- transforms/sql/seeds/impc_city_tz.csv).
{{ config(materialized='ephemeral') }}
SELECT * FROM read_csv(getvariable('seeds_dir') || '/impc_city_tz.csv', header = true, all_varchar = true)
