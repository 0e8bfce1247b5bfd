-- Heal requests already made for these channels since a day for one reason ('completeness' or
-- 'reconciliation'; the checks report them, the planner never asks twice for the same
-- channel-day and reason).
SELECT h.channel_id, h.local_date, h.status, h.backfill_run_id, h.requested_at
  FROM validation_heal_requests h
 WHERE h.channel_id = ANY(%(channel_ids)s::integer[])
   AND h.local_date >= %(since)s::date
   AND h.reason = %(reason)s
 ORDER BY h.channel_id, h.local_date;
