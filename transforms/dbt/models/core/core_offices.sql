-- The reference in force (staging.offices_effective: the accepted delivery replaces it whole).
{{ config(alias='offices') }}
SELECT * FROM {{ ref('offices_effective') }}
