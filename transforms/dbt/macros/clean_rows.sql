{#- The rows of a staging model the quality gate let through (neither their file nor their
    line quarantined), with their file's delivery order. -#}
{% macro clean_rows(staging_model) -%}
    SELECT s.*, bf.file_order
    FROM {{ ref(staging_model) }} s
    JOIN {{ source('batch', 'batch_files') }} bf USING (_file_id)
    WHERE s._file_id NOT IN (SELECT _file_id FROM {{ ref('quarantined_files') }})
      AND NOT EXISTS (SELECT 1 FROM {{ ref('quarantined_rows') }} q
                      WHERE q._file_id = s._file_id AND q._line = s._line)
{%- endmacro %}
