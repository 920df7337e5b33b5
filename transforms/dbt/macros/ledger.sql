{#- The hooks of work.file_outcomes, the core build's last model: they run in its transaction. -#}

{#- Every file of the batch accounted for in core.ledger with its outcome. -#}
{% macro account_for_batch() -%}
    UPDATE core.ledger l SET
        status = CASE WHEN c.file_quarantined OR c.all_rows_quarantined THEN 'quarantined'
                      ELSE 'loaded' END,
        rows_loaded = c.rows_loaded, rows_quarantined = c.rows_quarantined,
        rows_duplicate = c.rows_duplicate,
        message = CASE WHEN c.file_quarantined THEN c.file_detail  -- each detail starts with its rule
                       WHEN c.all_rows_quarantined THEN 'every row quarantined: ' || c.row_rules END,
        loaded_at = now()::TIMESTAMP
    FROM {{ this }} c WHERE l.file_id = c.file_id
{%- endmacro %}

{#- Reports none of whose site-days is still theirs (a later delivery replaced each whole):
    superseded by the latest file that replaced one. -#}
{% macro supersede_reports() -%}
    UPDATE core.ledger l SET status = 'superseded', superseded_by = r.by_file
    FROM (
        SELECT d.file_id, max(w.file_id) AS by_file
        FROM (SELECT DISTINCT 'A' AS feed, file_id, office_code AS site, report_date FROM {{ ref('exchange_office_deliveries') }}
              UNION ALL
              SELECT DISTINCT 'B', file_id, centre_code, report_date FROM {{ ref('centre_deliveries') }}) d
        JOIN (SELECT DISTINCT 'A' AS feed, file_id, office_code AS site, report_date FROM {{ ref('exchange_office_rows') }}
              UNION ALL
              SELECT DISTINCT 'B', file_id, centre_code, report_date FROM {{ ref('centre_rows') }}) w
          USING (feed, site, report_date)
        WHERE d.file_id NOT IN (SELECT file_id FROM {{ ref('exchange_office_rows') }}
                                UNION ALL SELECT file_id FROM {{ ref('centre_rows') }})
        GROUP BY d.file_id
    ) r
    WHERE l.file_id = r.file_id AND l.status = 'loaded'
{%- endmacro %}

{#- An earlier reference file, superseded by the accepted new one. -#}
{% macro supersede_reference() -%}
    UPDATE core.ledger l SET status = 'superseded',
        superseded_by = (SELECT max(_file_id) FROM {{ source('batch', 'batch_files') }} WHERE feed = 'reference')
    WHERE l.feed = 'reference' AND l.status = 'loaded'
      AND {{ reference_accepted() }}
      AND l.file_id NOT IN (SELECT _file_id FROM {{ source('batch', 'batch_files') }})
{%- endmacro %}
