{#- The validity join of offices.csv: the row of `offices` (an alias) in force on `day`
    (valid_to NULL = still in force). -#}
{% macro valid_on(day, offices='o') -%}
    {{ day }} BETWEEN {{ offices }}.valid_from AND coalesce({{ offices }}.valid_to, DATE '9999-12-31')
{%- endmacro %}
