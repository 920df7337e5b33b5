-- Items with no event in the last CLEARCAP_ITEM_WINDOW_DAYS leave the state: their events
-- are in the history, and a late event reads them back (core/ev_new.sql, reopen_candidates).
-- The night's own rows stay until they are in the history (core.history_pending).
DELETE FROM core.open_events WHERE item_id IN (
    SELECT item_id FROM core.open_events
    GROUP BY item_id
    HAVING max(event_utc) < getvariable('run_date') - to_days(getvariable('item_window_days')::INTEGER)
       AND NOT bool_or(batch IS NOT DISTINCT FROM getvariable('batch'))
);

INSERT INTO core.history_pending VALUES (getvariable('batch'), getvariable('run_date'));
