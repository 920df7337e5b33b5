-- A reference file with rows its reader rejected (an unreadable cell, a shifted row) is
-- rejected whole: without those rows offices would silently vanish from what is expected.
-- One entry per file, naming every rejected line (a reference has a few dozen rows); like
-- every file-level detail it starts with its rule.
INSERT INTO staging.file_failures
SELECT q._file_id, arg_min(q.rule, q._line),
       arg_min(q.rule, q._line) || ': ' || string_agg(format('line {}: {}', q._line,
                         CASE WHEN starts_with(q.detail, q.rule || ': ')
                              THEN substr(q.detail, length(q.rule) + 3) ELSE q.detail END),
                  '; ' ORDER BY q._line)
FROM staging.parse_quarantine q
JOIN staging.batch_files bf USING (_file_id)
WHERE bf.feed = 'reference'
GROUP BY q._file_id;
