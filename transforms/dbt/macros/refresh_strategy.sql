{#- incremental_strategy='refresh': replace the rows the model's refresh rule selects
    (config(refresh=...), a predicate on the target's columns) by the rows the model computes
    tonight. The models compute exactly those rows, so this is delete+insert without a key. -#}
{% macro get_incremental_refresh_sql(arg_dict) %}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ arg_dict["target_relation"] }} where {{ config.require("refresh") }};
    insert into {{ arg_dict["target_relation"] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict["temp_relation"] }}
{% endmacro %}
