-- Daily figures per meter and site-local day for the UTC range [start, end), which the caller sets
-- to whole local days of the site (a report week): the aggregation of v_readings_daily (sum of
-- energy in double precision, max power, count of clean readings, per meter and local date of
-- local_timestamp), computed from v_readings_enriched.
-- Why not SELECT ... FROM v_readings_daily WHERE reading_date BETWEEN ...: the date is computed
-- from the timestamp after the join, so that filter reads every reading of the site's meters
-- (1.5M rows: ~2 s per call); a range on "timestamp" walks idx_readings_channel_timestamp and
-- reads one week (~40 ms). tests/integration/test_weekly_report_figures.py checks both give the
-- same rows. A meter-day without any clean reading has no row: the report keeps it as NULL kWh
-- and 0 readings, never 0 kWh.
SELECT e.meter_id,
       e.local_timestamp::date              AS reading_date,
       sum(e.energy_kwh::double precision)  AS total_energy_kwh,
       max(e.power_kw)                      AS peak_power_kw,
       count(*)                             AS reading_count
  FROM v_readings_enriched e
 WHERE e.site_id = %(site_id)s
   AND e."timestamp" >= %(start)s
   AND e."timestamp" < %(end)s
 GROUP BY e.meter_id, e.local_timestamp::date
 ORDER BY reading_date, e.meter_id;
