-- Every item's dispatch the marts read: the open items' rows in the state, and the closed items'
-- in the history (history.dispatch), of the files the night planned for the dates the marts
-- recompute (work.history_reads: `closed_dispatch_files`). A closed row is superseded once its
-- item was reopened at or after the night that closed it.
{{ config(materialized='ephemeral') }}
SELECT * FROM {{ ref('dispatch') }}
UNION ALL BY NAME
SELECT * EXCLUDE (closed_batch)
FROM read_parquet(getvariable('closed_dispatch_files'), hive_partitioning = false) h
WHERE NOT EXISTS (SELECT 1 FROM {{ ref('reopened_items') }} r
                  WHERE r.item_id = h.item_id AND h.closed_batch <= r.batch)
