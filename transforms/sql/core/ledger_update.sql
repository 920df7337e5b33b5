-- Account for every file of the batch: rows read = loaded + quarantined + duplicate.
CREATE OR REPLACE TEMP TABLE file_counts AS
WITH q AS (
    SELECT _file_id, count(DISTINCT _line) AS n FROM work.quarantined_rows GROUP BY _file_id
),
clean AS (
    SELECT _file_id, count(*) AS n FROM work.exchange_office_clean GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM work.centre_clean GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM temp.ev_new GROUP BY ALL
    UNION ALL SELECT _file_id, count(*) FROM staging.raw_reference
        WHERE (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted)
        GROUP BY ALL
),
row_rules AS (
    SELECT _file_id, string_agg(rule || ' (' || n || ')', ', ' ORDER BY rule) AS rules
    FROM (SELECT _file_id, rule, count(DISTINCT _line) AS n FROM work.quarantined_rows GROUP BY ALL)
    GROUP BY ALL
),
dup AS (
    SELECT c._file_id, c.n - coalesce(n.n, 0) AS n
    FROM (SELECT _file_id, count(*) AS n FROM temp.ev_clean GROUP BY ALL) c
    LEFT JOIN (SELECT _file_id, count(*) AS n FROM temp.ev_new GROUP BY ALL) n USING (_file_id)
)
SELECT
    bf._file_id,
    (qf._file_id IS NOT NULL) AS file_quarantined,
    qf.detail AS file_detail,
    CASE WHEN qf._file_id IS NOT NULL THEN 0 ELSE coalesce(cl.n, 0) END AS rows_loaded,
    CASE WHEN qf._file_id IS NOT NULL THEN bf.rows_read ELSE coalesce(q.n, 0) END AS rows_quarantined,
    CASE WHEN qf._file_id IS NOT NULL THEN 0 ELSE coalesce(d.n, 0) END AS rows_duplicate,
    -- rows read and every one quarantined: nothing of the file was loaded, it is rejected too
    qf._file_id IS NULL AND coalesce(cl.n, 0) = 0 AND coalesce(d.n, 0) = 0
        AND coalesce(q.n, 0) > 0 AS all_rows_quarantined,
    rr.rules AS row_rules
FROM staging.batch_files bf
LEFT JOIN (SELECT _file_id, string_agg(detail, '; ') AS detail
           FROM work.quarantined_files GROUP BY ALL) qf USING (_file_id)
LEFT JOIN (SELECT _file_id, sum(n) AS n FROM clean GROUP BY ALL) cl USING (_file_id)
LEFT JOIN q USING (_file_id)
LEFT JOIN dup d USING (_file_id)
LEFT JOIN row_rules rr USING (_file_id);

UPDATE core.ledger l SET
    status = CASE WHEN c.file_quarantined OR c.all_rows_quarantined THEN 'quarantined'
                  ELSE 'loaded' END,
    rows_loaded = c.rows_loaded, rows_quarantined = c.rows_quarantined,
    rows_duplicate = c.rows_duplicate,
    message = CASE WHEN c.file_quarantined THEN c.file_detail  -- each detail starts with its rule
                   WHEN c.all_rows_quarantined THEN 'every row quarantined: ' || c.row_rules END,
    loaded_at = now()::TIMESTAMP
FROM temp.file_counts c WHERE l.file_id = c._file_id;

-- Reports whose office-days were all delivered again by a later file.
UPDATE core.ledger l SET status = 'superseded', superseded_by = r.by_file
FROM (SELECT file_id, max(by_file) AS by_file
      FROM (SELECT * FROM temp.eo_replaced UNION ALL SELECT * FROM temp.cc_replaced)
      GROUP BY file_id) r
WHERE l.file_id = r.file_id AND l.status = 'loaded'
  AND l.file_id NOT IN (SELECT file_id FROM core.exchange_office_rows
                        UNION ALL SELECT file_id FROM core.centre_rows);

-- An earlier version of a reference file is superseded by the accepted new one.
UPDATE core.ledger l SET status = 'superseded',
    superseded_by = (SELECT max(_file_id) FROM staging.batch_files WHERE feed = 'reference')
WHERE l.feed = 'reference' AND l.status = 'loaded'
  AND (SELECT coalesce(any_value(accepted), false) FROM staging.reference_accepted)
  AND l.file_id NOT IN (SELECT _file_id FROM staging.batch_files);
