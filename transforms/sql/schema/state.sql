-- The pipeline's private state: ledger, current source rows, deduplicated events, per-item
-- timelines. Idempotent: run at every connection.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS mart;
CREATE SCHEMA IF NOT EXISTS mart_checks;

CREATE SEQUENCE IF NOT EXISTS core.file_id_seq START 1;

CREATE TABLE IF NOT EXISTS core.ledger (
    file_id BIGINT PRIMARY KEY,
    path VARCHAR NOT NULL,
    feed VARCHAR NOT NULL,
    report_date DATE,
    content_hash VARCHAR NOT NULL,
    size_bytes BIGINT,
    mtime DOUBLE,
    status VARCHAR NOT NULL,              -- staged, loaded, superseded, quarantined
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_duplicate BIGINT,
    encoding VARCHAR,
    message VARCHAR,
    superseded_by BIGINT,
    run_date DATE,
    first_seen_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS core.quarantine (
    file_id BIGINT,
    feed VARCHAR,
    path VARCHAR,
    line BIGINT,                          -- NULL for a whole file
    rule VARCHAR,
    detail VARCHAR,
    raw VARCHAR,
    run_date DATE
);

CREATE TABLE IF NOT EXISTS core.offices (
    office_code VARCHAR, office_type VARCHAR, name_zh VARCHAR, name_en VARCHAR,
    province VARCHAR, city VARCHAR, tz VARCHAR,
    capacity_in_per_day BIGINT, capacity_out_per_day BIGINT,
    valid_from DATE, valid_to DATE
);

CREATE TABLE IF NOT EXISTS core.exchange_office_rows (
    file_id BIGINT, line BIGINT, report_date DATE, office_code VARCHAR, direction VARCHAR,
    mail_class VARCHAR, items_received BIGINT, items_dispatched BIGINT, receptacles BIGINT,
    weight_kg DOUBLE, items_presented BIGINT, items_released BIGINT, items_inspected BIGINT,
    items_held BIGINT, items_returned BIGINT, backlog_close BIGINT, extra VARCHAR
);

CREATE TABLE IF NOT EXISTS core.centre_rows (
    file_id BIGINT, line BIGINT, report_date DATE, centre_code VARCHAR, direction VARCHAR,
    regime VARCHAR, declarations_lodged BIGINT, declarations_released BIGINT,
    declarations_inspected BIGINT, declarations_held BIGINT, declarations_rejected BIGINT,
    items_declared BIGINT, declared_value_cny DOUBLE, release_hours_total DOUBLE,
    pending_close BIGINT, extra VARCHAR
);

-- Events of the open items: every event of each item with an event in the last
-- CLEARCAP_ITEM_WINDOW_DAYS (transforms/core_build.py). All events, open or not, are in the
-- history (transforms/history.py); `batch` names the night that added a row and is in
-- core.history_pending until that night's rows are in the history too.
CREATE TABLE IF NOT EXISTS core.open_events (
    item_id VARCHAR, event_code VARCHAR, event_utc TIMESTAMP, office_code VARCHAR,
    event_local TIMESTAMP,                -- wall clock at the office (its tz)
    next_office_code VARCHAR, mail_class VARCHAR, origin_country VARCHAR,
    destination_country VARCHAR, weight_g DOUBLE, retention_code VARCHAR, reason_code VARCHAR,
    action_code VARCHAR, file_id BIGINT, line BIGINT, batch BIGINT
);

-- Nights committed to the state whose new events are not yet in the history.
CREATE TABLE IF NOT EXISTS core.history_pending (batch BIGINT PRIMARY KEY, run_date DATE);

-- One clearance per item, office and direction (WCO TRS / UPU PRIME definitions).
CREATE TABLE IF NOT EXISTS core.clearance (
    item_id VARCHAR, office_code VARCHAR, direction VARCHAR,
    presented_utc TIMESTAMP, released_utc TIMESTAMP,
    presented_date DATE, release_date DATE, dwell_h DOUBLE, retained BOOLEAN
);

-- The stay of an item at an office of exchange (core/office_stay.sql): arrival, presented,
-- released (before departure), departure, and the hours of each step (NULL when missing).
CREATE TABLE IF NOT EXISTS core.office_stay (
    item_id VARCHAR, office_code VARCHAR, direction VARCHAR,
    arrival_utc TIMESTAMP, presented_utc TIMESTAMP, released_utc TIMESTAMP, departure_utc TIMESTAMP,
    departure_date DATE, to_customs_h DOUBLE, customs_h DOUBLE, after_release_h DOUBLE, stay_h DOUBLE
);

-- Nights whose warehouse was published: their alerts are the record of what people were told
-- and are never recomputed (mart/alerts.sql).
CREATE TABLE IF NOT EXISTS core.published_nights (run_date DATE PRIMARY KEY, published_at TIMESTAMP);

-- One outbound dispatch per item: last EMC at a Chinese office, first EMD abroad after it.
CREATE TABLE IF NOT EXISTS core.dispatch (
    item_id VARCHAR, origin_office VARCHAR, destination_country VARCHAR,
    dispatch_utc TIMESTAMP, dispatch_date DATE, arrival_utc TIMESTAMP, leg_days DOUBLE
);

-- Reports received but rejected: per file, the site (office or centre code of its rows) and
-- day (its date folder) for which it delivered rows and none was loaded, with the rules broken.
-- Tells a rejected report from one never received (mart office_daily/centre_daily, alerts).
CREATE TABLE IF NOT EXISTS core.rejected_reports (
    file_id BIGINT, feed VARCHAR, site_code VARCHAR, report_date DATE, rules VARCHAR
);

-- Dates whose mart rows must be recomputed; cleared by the transaction that rebuilds them.
CREATE TABLE IF NOT EXISTS core.pending_dates (d DATE PRIMARY KEY);

CREATE TABLE IF NOT EXISTS core.runs (
    run_date DATE PRIMARY KEY,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR
);

CREATE TABLE IF NOT EXISTS core.quality_results (
    run_date DATE, suite VARCHAR, feed VARCHAR, report_date DATE, rule VARCHAR,
    expectation VARCHAR, column_name VARCHAR, severity VARCHAR, success BOOLEAN,
    observed VARCHAR, unexpected_count BIGINT
);

-- Items presented and released per office, direction and local day: the running difference is
-- the stock in customs, kept small so the cumulative sum never rescans items.
CREATE TABLE IF NOT EXISTS core.clearance_daily (
    office_code VARCHAR, direction VARCHAR, day DATE, n_presented BIGINT, n_released BIGINT
);

-- Whether the marts as they stand passed their suites: a rerun that changed nothing keeps the
-- night's recorded results instead of re-checking (and re-recording) unchanged tables.
CREATE TABLE IF NOT EXISTS core.mart_validation (status VARCHAR);
