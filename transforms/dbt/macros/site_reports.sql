{#- What the daily report marts of feed A (office_daily) and feed B (centre_daily) share: which
    sites are expected to report on a day (offices.csv rows valid that day), the capacity in
    force, and why an expected report is missing. `offices` names the offices relation's alias,
    `office_types` is a list of offices.csv office_type values (constants of the model, never data). -#}

{% macro capacity_of(direction, offices='o') -%}
    CASE WHEN {{ direction }} = 'outbound' THEN {{ offices }}.capacity_out_per_day
         ELSE {{ offices }}.capacity_in_per_day END
{%- endmacro %}

{#- (office_code, report_date): every site of `office_types` valid on a day of the relation `days` (column d). -#}
{% macro expected_sites(office_types, days='days') -%}
    SELECT o.office_code, d.d AS report_date
    FROM {{ days }} d JOIN {{ ref('core_offices') }} o
      ON o.office_type IN ({% for t in office_types %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %})
     AND {{ valid_on('d.d') }}
{%- endmacro %}

{#- (site_column, report_date, direction, missing_reason): an expected site with no row of `rows`
    on a day of `days`, once per direction it has ever reported (both when it never has);
    'rejected' when a report of `feed` for the site and day arrived and none of its rows could
    be loaded, else 'not_received'. -#}
{% macro missing_reports(rows, site_column, feed, office_types, days='days') -%}
    SELECT e.office_code AS {{ site_column }}, e.report_date,
           unnest(coalesce(sd.directions, ['inbound', 'outbound'])) AS direction,
           CASE WHEN EXISTS (SELECT 1 FROM {{ ref('rejected_reports') }} x
                             WHERE x.feed = '{{ feed }}' AND x.site_code = e.office_code
                               AND x.report_date = e.report_date)
                THEN 'rejected' ELSE 'not_received' END AS missing_reason
    FROM ({{ expected_sites(office_types, days) }}) e
    LEFT JOIN (SELECT {{ site_column }} AS office_code, list(DISTINCT direction ORDER BY direction) AS directions
               FROM {{ rows }} GROUP BY ALL) sd USING (office_code)
    WHERE NOT EXISTS (SELECT 1 FROM {{ rows }} r
                      WHERE r.{{ site_column }} = e.office_code AND r.report_date = e.report_date)
{%- endmacro %}
