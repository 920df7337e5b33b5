-- The pipeline's bookkeeping in its private state: the ledger of files, the days and nights to
-- build, the quality results. The core tables (report rows, open events, per-item timelines)
-- are the dbt project's models (transforms/dbt/models/core). Idempotent: run at every connection.
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

-- Nights committed to the state whose new events are not yet in the history.
CREATE TABLE IF NOT EXISTS core.history_pending (batch BIGINT PRIMARY KEY, run_date DATE);

-- Items that left core.open_events whose per-item rows (core.clearance, dispatch, office_stay)
-- are on their way to the history's tables of closed items, with the night that moves them.
CREATE TABLE IF NOT EXISTS core.closing (item_id VARCHAR PRIMARY KEY, batch BIGINT);

-- A `clearcap rebuild` whose core build began and did not end (its batch has no file: the
-- ledger cannot tell): the next run finishes it (core_build.finish_interrupted).
CREATE TABLE IF NOT EXISTS core.rebuild_pending (batch BIGINT PRIMARY KEY, first_day DATE, last_day DATE);

-- Nights whose warehouse was published: their alerts are the record of what people were told
-- and are never recomputed (mart/alerts.sql).
CREATE TABLE IF NOT EXISTS core.published_nights (run_date DATE PRIMARY KEY, published_at TIMESTAMP);

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

-- Whether the marts as they stand passed their suites: a rerun that changed nothing keeps the
-- night's recorded results instead of re-checking (and re-recording) unchanged tables.
CREATE TABLE IF NOT EXISTS core.mart_validation (status VARCHAR);
