{{ config(refresh="true") }}
-- mart.offices: the reference in force (offices, stations and centres with capacity history).
SELECT * FROM {{ ref('core_offices') }}
