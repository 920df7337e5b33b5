-- The closed items a late event opened again, with the night that did (the history's
-- item index found their earlier days: work.reopen_days). Their rows in the history's tables
-- of closed items from before that night are superseded by the state's (models all_*.sql); the
-- days of their events become pending (the dates those rows had are among them).
{{ config(materialized='incremental', incremental_strategy='refresh',
          refresh="batch = getvariable('batch')",
          post_hook="{{ record_reopened_days() }}") }}
SELECT item_id, getvariable('batch')::BIGINT AS batch FROM {{ ref('reopen_days') }}
