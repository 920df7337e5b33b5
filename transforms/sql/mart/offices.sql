-- mart.offices: the reference in force (offices, stations and centres with capacity history).
SELECT * FROM core.offices
