{#- A hook of the per-item core models (clearance, office_stay, dispatch): the days of the rows
    of tonight's touched items, in the model's table, become pending (core.pending_dates, the
    days whose marts the next build recomputes). As a pre-hook it records the days the rows had
    before tonight, as a post-hook the days they have now; both run inside the model's own
    transaction, so a retry after the model committed finds the same days recorded. -#}
{% macro record_pending_dates(date_columns) -%}
    {%- if load_relation(this) is not none -%}
    INSERT OR IGNORE INTO core.pending_dates
    SELECT DISTINCT d FROM (
        SELECT unnest([{{ date_columns | join(', ') }}]) AS d FROM {{ this }}
        WHERE item_id IN (SELECT item_id FROM {{ ref('touched_items') }})
    ) WHERE d IS NOT NULL
    {%- else -%}
    SELECT 1  -- the table does not exist yet: it had no row before tonight
    {%- endif -%}
{%- endmacro %}


{#- A hook of core.reopened_items: a closed item that a late event reopens has its rows in the
    history's tables of closed items, not in the state, so the per-item models' pre-hooks cannot
    see the days those rows had. Every day of the item's events (the history's item index:
    work.reopen_days), one either side for the local day, becomes pending instead: the old dates
    are among them, and recomputing a day more changes nothing. -#}
{% macro record_reopened_days() -%}
    INSERT OR IGNORE INTO core.pending_dates
    SELECT DISTINCT CAST(unnest(range(first_day - 1, last_day + 2, INTERVAL 1 DAY)) AS DATE)
    FROM {{ ref('reopen_days') }}
{%- endmacro %}
