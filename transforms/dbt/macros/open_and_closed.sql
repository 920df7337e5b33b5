{#- Every item's rows of a per-item core model (clearance, dispatch, office_stay): the open items'
    in the state, and the closed items' in the history's table of the same name, read from the
    files core_build planned for tonight's dates (`closed_<model>_files`, work.history_reads). A
    closed row is superseded once its item was reopened at or after the night that closed it
    (core.reopened_items). union_by_name: files written before the model gained a column read it
    as NULL (history._evolve). docs/decisions/0007. -#}
{% macro open_and_closed(model) -%}
SELECT * FROM {{ ref(model) }}
UNION ALL BY NAME
SELECT * EXCLUDE (closed_batch)
FROM read_parquet(getvariable('closed_{{ model }}_files'), hive_partitioning = false, union_by_name = true) h
WHERE NOT EXISTS (SELECT 1 FROM {{ ref('reopened_items') }} r
                  WHERE r.item_id = h.item_id AND h.closed_batch <= r.batch)
{%- endmacro %}
