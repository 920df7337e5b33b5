-- Every loaded delivery of feed B (see exchange_office_deliveries).
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="file_id NOT IN (SELECT file_id FROM core.ledger WHERE status <> 'staged')") }}
SELECT _file_id AS file_id, _line AS line, report_date, centre_code, direction, regime,
       declarations_lodged, declarations_released, declarations_inspected, declarations_held,
       declarations_rejected, items_declared, declared_value_cny, release_hours_total,
       pending_close, _extra AS extra
FROM {{ ref('centre_clean') }}
