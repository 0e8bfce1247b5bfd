-- What the reconciliation already knows of each (channel, site-local day): the previous verdict
-- and numbers (reconciliation_days), the reconciliation heal asked for it (validation_heal_requests,
-- reason 'reconciliation') and the first successful pull overlapping the day logged after that
-- heal was asked (the heal has been done once there is one).
WITH w AS (
    SELECT *
      FROM unnest(%(idx)s::integer[], %(channel_ids)s::integer[], %(days)s::date[],
                  %(starts)s::timestamptz[], %(ends)s::timestamptz[])
           AS w (idx, channel_id, local_date, day_start, day_end)
)
SELECT w.idx,
       d.verdict,
       d.our_kwh,
       d.source_kwh,
       d.source_slots_kwh,
       h.requested_at,
       h.backfill_run_id,
       (SELECT min(l.created_at)
          FROM ingestion_logs l
         WHERE h.requested_at IS NOT NULL
           AND l.channel_id = w.channel_id
           AND l.status = 'success'
           AND l.start_time < w.day_end AND l.end_time > w.day_start
           AND l.created_at > h.requested_at)                      AS healed_at
  FROM w
  LEFT JOIN reconciliation_days d ON d.channel_id = w.channel_id AND d.local_date = w.local_date
  LEFT JOIN validation_heal_requests h
         ON h.channel_id = w.channel_id AND h.local_date = w.local_date AND h.reason = 'reconciliation'
 ORDER BY w.idx;
