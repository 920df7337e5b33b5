-- The run's batch, as the readers typed it. Replaced by every load. `batch` names the batch in
-- the core models and the history (core.open_events.batch, the history's snapshot property).
CREATE OR REPLACE TABLE staging.batch_meta AS
SELECT getvariable('run_date')::DATE AS run_date, epoch_us(now()) AS batch;
CREATE OR REPLACE TABLE staging.batch_files (
    _file_id BIGINT, path VARCHAR, feed VARCHAR, folder_date DATE, mtime DOUBLE,
    file_order BIGINT, rows_path VARCHAR, quarantine_path VARCHAR, totals_path VARCHAR,
    file_error_rule VARCHAR, file_error_detail VARCHAR, rows_read BIGINT, encoding VARCHAR
);
CREATE OR REPLACE TABLE staging.raw_reference (
    _file_id BIGINT, _line BIGINT, _raw VARCHAR,
    office_code VARCHAR, office_type VARCHAR, name_zh VARCHAR, name_en VARCHAR,
    province VARCHAR, city VARCHAR, tz VARCHAR,
    capacity_in_per_day BIGINT, capacity_out_per_day BIGINT, valid_from DATE, valid_to DATE
);
CREATE OR REPLACE TABLE staging.raw_exchange_office (
    _file_id BIGINT, folder_date DATE, _line BIGINT, _raw VARCHAR, _extra VARCHAR,
    report_date DATE, office_code VARCHAR, direction VARCHAR, mail_class VARCHAR,
    items_received BIGINT, items_dispatched BIGINT, receptacles BIGINT, weight_kg DOUBLE,
    items_presented BIGINT, items_released BIGINT, items_inspected BIGINT, items_held BIGINT,
    items_returned BIGINT, backlog_close BIGINT
);
CREATE OR REPLACE TABLE staging.raw_customs_centre (
    _file_id BIGINT, folder_date DATE, _line BIGINT, _raw VARCHAR, _extra VARCHAR,
    report_date DATE, centre_code VARCHAR, direction VARCHAR, regime VARCHAR,
    declarations_lodged BIGINT, declarations_released BIGINT, declarations_inspected BIGINT,
    declarations_held BIGINT, declarations_rejected BIGINT, items_declared BIGINT,
    declared_value_cny DOUBLE, release_hours_total DOUBLE, pending_close BIGINT
);
-- Events keep no raw text here (millions of rows): the few rows a rule rejects fetch theirs
-- from the file's ingest Parquet.
CREATE OR REPLACE TABLE staging.raw_item_events (
    _file_id BIGINT, folder_date DATE, _line BIGINT,
    item_id VARCHAR, event_code VARCHAR, event_time VARCHAR, event_local TIMESTAMP,
    event_offset_min INTEGER, office_code VARCHAR, next_office_code VARCHAR, mail_class VARCHAR,
    origin_country VARCHAR, destination_country VARCHAR, weight_g DOUBLE,
    retention_code VARCHAR, reason_code VARCHAR, action_code VARCHAR
);
CREATE OR REPLACE TABLE staging.parse_quarantine (
    _file_id BIGINT, _line BIGINT, _raw VARCHAR, rule VARCHAR, detail VARCHAR
);
CREATE OR REPLACE TABLE staging.report_totals (
    _row_id BIGINT, _file_id BIGINT, _line BIGINT, feed VARCHAR, column_name VARCHAR,
    reported_total DOUBLE, rows_sum DOUBLE
);
-- Filled by validation: row and file rules that failed.
CREATE OR REPLACE TABLE staging.rule_failures (
    _file_id BIGINT, _line BIGINT, _raw VARCHAR, rule VARCHAR, detail VARCHAR
);
CREATE OR REPLACE TABLE staging.file_failures (_file_id BIGINT, rule VARCHAR, detail VARCHAR);
CREATE OR REPLACE TABLE staging.reference_accepted (accepted BOOLEAN);
