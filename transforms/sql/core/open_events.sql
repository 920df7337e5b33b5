-- The open items' events in state: the night's new events, and every history event of the
-- closed items a late event touched (reopened). Then the timelines' input: all events of the
-- touched items.
INSERT INTO core.open_events
SELECT item_id, event_code, event_utc, office_code, event_local, next_office_code, mail_class,
       origin_country, destination_country, weight_g, retention_code, reason_code, action_code,
       file_id, line, NULL
FROM temp.history_reopened;

INSERT INTO core.open_events
SELECT item_id, event_code, event_utc, office_code, event_local, next_office_code, mail_class,
       origin_country, destination_country, weight_g, retention_code, reason_code, action_code,
       _file_id, _line, getvariable('batch')
FROM temp.ev_new;

CREATE OR REPLACE TEMP TABLE touched_events AS
SELECT o.* FROM core.open_events o SEMI JOIN temp.touched_items t ON o.item_id = t.item_id;
