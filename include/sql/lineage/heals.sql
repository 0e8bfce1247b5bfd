-- Lineage, step 6: the heals (backfill re-fetches) the validation DAG asked for the meter's day,
-- and why (validation_heal_requests exists once the validation DAG has run).
SELECT h.reason, h.status, h.backfill_run_id, h.validation_run_id, h.requested_at, h.confirmed_at
  FROM validation_heal_requests h
 WHERE h.channel_id = %(channel_id)s AND h.local_date = %(local_date)s
 ORDER BY h.requested_at;
