-- Record planned heals of channel-days before their backfill is triggered. DO NOTHING: a day
-- already requested for the same reason (by any run) keeps its first request; the primary key
-- makes "once per reason" structural.
-- RETURNING tells the planner which rows are new (a concurrent run may have taken some).
INSERT INTO validation_heal_requests (
    channel_id, local_date, validation_run_id, backfill_run_id, expected_slots, received_slots, reason
)
SELECT u.channel_id, u.local_date, %(validation_run_id)s, u.backfill_run_id, u.expected_slots, u.received_slots,
       u.reason
  FROM unnest(%(channel_ids)s::integer[], %(days)s::date[], %(backfill_run_ids)s::text[],
              %(expected)s::integer[], %(received)s::integer[], %(reasons)s::text[])
       AS u (channel_id, local_date, backfill_run_id, expected_slots, received_slots, reason)
ON CONFLICT (channel_id, local_date, reason) DO NOTHING
RETURNING channel_id, local_date, backfill_run_id, reason;
