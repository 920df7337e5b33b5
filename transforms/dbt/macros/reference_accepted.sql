{#- Whether tonight's batch delivered a reference that passed its rules (the quality gate's
    decision, staging.reference_accepted): it then replaces the one in force, whole. -#}
{% macro reference_accepted() -%}
    (SELECT coalesce(any_value(accepted), false) FROM {{ source('gate', 'reference_accepted') }})
{%- endmacro %}
