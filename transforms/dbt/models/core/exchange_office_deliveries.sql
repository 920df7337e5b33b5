-- Every loaded delivery of feed A: the rows of each file the quality gate let through. Replaces
-- the rows of every file the ledger has not accounted for yet (the batch's own, and a killed
-- run's), like the quarantine; exchange_office_rows picks the latest delivery of each office-day.
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="file_id NOT IN (SELECT file_id FROM core.ledger WHERE status <> 'staged')") }}
SELECT _file_id AS file_id, _line AS line, report_date, office_code, direction, mail_class,
       items_received, items_dispatched, receptacles, weight_kg, items_presented, items_released,
       items_inspected, items_held, items_returned, backlog_close, _extra AS extra
FROM {{ ref('exchange_office_clean') }}
