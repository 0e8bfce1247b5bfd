-- Upsert the newest reconciliation verdict of each (channel, site-local day). first_mismatch_at
-- keeps the first time the day disagreed, across runs (NULL while it never did).
INSERT INTO reconciliation_days AS t (
    channel_id, local_date, timezone, day_start, day_end, our_kwh, our_readings, source_kwh,
    source_slots_kwh, diff_kwh, tolerance_kwh, verdict, first_mismatch_at, run_id, checked_at
)
SELECT u.channel_id, u.local_date, u.timezone, u.day_start, u.day_end, u.our_kwh, u.our_readings,
       u.source_kwh, u.source_slots_kwh, u.our_kwh - u.source_kwh, u.tolerance_kwh, u.verdict,
       CASE WHEN u.verdict <> 'match' THEN CURRENT_TIMESTAMP END, %(run_id)s, CURRENT_TIMESTAMP
  FROM unnest(%(channel_ids)s::integer[], %(days)s::date[], %(zones)s::text[],
              %(starts)s::timestamptz[], %(ends)s::timestamptz[], %(our_kwh)s::double precision[],
              %(our_readings)s::integer[], %(source_kwh)s::double precision[],
              %(source_slots_kwh)s::double precision[], %(tolerance_kwh)s::double precision[],
              %(verdicts)s::text[])
       AS u (channel_id, local_date, timezone, day_start, day_end, our_kwh, our_readings, source_kwh,
             source_slots_kwh, tolerance_kwh, verdict)
ON CONFLICT (channel_id, local_date) DO UPDATE
   SET timezone = EXCLUDED.timezone,
       day_start = EXCLUDED.day_start,
       day_end = EXCLUDED.day_end,
       our_kwh = EXCLUDED.our_kwh,
       our_readings = EXCLUDED.our_readings,
       source_kwh = EXCLUDED.source_kwh,
       source_slots_kwh = coalesce(EXCLUDED.source_slots_kwh, t.source_slots_kwh),
       diff_kwh = EXCLUDED.diff_kwh,
       tolerance_kwh = EXCLUDED.tolerance_kwh,
       verdict = EXCLUDED.verdict,
       first_mismatch_at = coalesce(t.first_mismatch_at, EXCLUDED.first_mismatch_at),
       run_id = EXCLUDED.run_id,
       checked_at = EXCLUDED.checked_at;
