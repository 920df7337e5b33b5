-- The events of the open items, the state's working set: every event of each item with an event
-- in the last CLEARCAP_ITEM_WINDOW_DAYS. All events, open or not, are in the history
-- (transforms/history.py); `batch` names the night that added a row (core.history_pending
-- holds it until that night's rows are in the history too), `reopened_by` the night that read a
-- closed item's events back from the history (`reopened_files`, `reopened_items`).
-- Replaced tonight: the rows a previous attempt of tonight added, and the items that close
-- (no event in the window, none tonight: their events are in the history).
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="batch = getvariable('batch') OR reopened_by = getvariable('batch')
                   OR item_id IN (SELECT item_id FROM core.open_events GROUP BY item_id
                                  HAVING max(event_utc) < getvariable('run_date')
                                         - to_days(getvariable('item_window_days')::INTEGER)
                                     AND NOT bool_or(batch IS NOT DISTINCT FROM getvariable('batch')))
                      AND item_id NOT IN (SELECT item_id FROM work.touched_items)") }}
SELECT item_id, event_code, event_utc, office_code, event_local, next_office_code, mail_class,
       origin_country, destination_country, weight_g, retention_code, reason_code, action_code,
       _file_id AS file_id, _line AS line, getvariable('batch')::BIGINT AS batch,
       NULL::BIGINT AS reopened_by
FROM {{ ref('ev_new') }}
UNION ALL
SELECT item_id, event_code, event_utc, office_code, event_utc + to_minutes(local_offset_min),
       next_office_code, mail_class, origin_country, destination_country, weight_g,
       retention_code, reason_code, action_code, file_id, line, NULL::BIGINT,
       getvariable('batch')::BIGINT
FROM read_parquet(getvariable('reopened_files'))
WHERE item_id IN (SELECT unnest(getvariable('reopened_items')::VARCHAR[]))
