-- Lineage, step 5: the reconciliation verdict of the meter's day (validation DAG): our kWh against
-- Eniscope's daily total, and Eniscope's own 15-minute sum when it was checked after a heal.
SELECT d.verdict, d.our_kwh, d.source_kwh, d.source_slots_kwh, d.diff_kwh, d.tolerance_kwh,
       d.first_mismatch_at, d.checked_at, d.run_id
  FROM reconciliation_days d
 WHERE d.channel_id = %(channel_id)s AND d.local_date = %(local_date)s;
