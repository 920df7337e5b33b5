-- The time zone of each country (seed transforms/sql/seeds/country_tz.csv; the reference
-- implementation of the tests reads the same file).
{{ config(materialized='ephemeral') }}
SELECT * FROM read_csv(getvariable('seeds_dir') || '/country_tz.csv', header = true, all_varchar = true)
