{#- Feeds A and B: the latest delivery of a site-day replaces earlier ones whole (feeds spec).
    `deliveries` holds every loaded file's rows; file ids grow with the load order (a later
    run, then the later file_order within a run), so the latest delivery of a site-day is the
    one with the greatest file id. -#}
{% macro latest_delivery(deliveries, site_column) -%}
    SELECT d.* FROM {{ deliveries }} d
    SEMI JOIN (SELECT {{ site_column }}, report_date, max(file_id) AS file_id
               FROM {{ deliveries }} GROUP BY ALL) w
        USING ({{ site_column }}, report_date, file_id)
{%- endmacro %}
