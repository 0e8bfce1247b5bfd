-- Channel-days where Eniscope disagrees with itself: its 15-minute data (which we hold) and its
-- own daily total differ (verdict written by the reconciliation check). Since a local day.
SELECT d.channel_id, d.local_date, d.timezone, d.our_kwh, d.source_kwh, d.source_slots_kwh,
       d.diff_kwh, d.tolerance_kwh, d.first_mismatch_at, d.checked_at
  FROM reconciliation_days d
 WHERE d.verdict = 'source_inconsistent'
   AND d.channel_id = ANY(%(channel_ids)s::integer[])
   AND d.local_date >= %(since)s::date
 ORDER BY d.local_date, d.channel_id;
